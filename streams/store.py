"""The worker's one ClickHouse connection, used from one thread so the event loop never blocks on it.

With the embedded chDB store the worker process owns the data directory; the web views and the ClickHouse sink all
go through here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from crimelink.settings import Settings
from crimelink.sinks.clickhouse import ClickHouseStore

__all__ = ["StoreThread"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreThread:
    """The store, opened on its own thread, and every call to it run there."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self._store: ClickHouseStore | None = None

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
