"""The worker's ClickHouse connections, each used from a thread of its own so the event loop never blocks on them.

The store (the sink's writes, the access log) has one thread; analysts' queries and crimelink's own read views have
another, on a read-only connection with limits (:class:`~crimelink.sinks.clickhouse.AnalystReader`), so storage never
waits for an analyst and an analyst waits at most for the one query ahead of theirs. With the embedded chDB store
the worker process owns the data directory and every reader goes through here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from crimelink.settings import Settings
from crimelink.sinks.clickhouse import AnalystReader, ClickHouseStore

__all__ = ["StoreThread"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreThread:
    """The store, opened on its own thread, and every call to it run there; the analysts' reader on another."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._reader_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-analysts")
        self._store: ClickHouseStore | None = None
        self._reader: AnalystReader | None = None

    def open(self) -> ClickHouseStore:
        """Connect and apply migrations (the worker does this once, before Faust starts)."""
        if self._store is None:
            def _open() -> ClickHouseStore:
                opened = ClickHouseStore.from_settings(self._settings)
                version = opened.setup()
                log.info("ClickHouse %s ready, database %s at schema version %s", opened.where, opened.database, version)
                return opened

            self._store = self._executor.submit(_open).result()
        return self._store

    @property
    def store(self) -> ClickHouseStore:
        return self._store if self._store is not None else self.open()

    async def call(self, function: Callable[..., T], *args: object) -> T:
        """Run a store call on the ClickHouse thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def read(self, function: Callable[[AnalystReader], T]) -> T:
        """Run ``function(reader)`` on the analysts' thread, with its read-only, limited connection."""
        store = self.store

        def run() -> T:
            if self._reader is None:
                self._reader = store.analyst_reader(self._settings.query)
            return function(self._reader)

        return await asyncio.get_running_loop().run_in_executor(self._reader_executor, run)
