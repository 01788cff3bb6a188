"""The worker's one ClickHouse connection, used from one thread so the event loop never blocks on it.

With the embedded chDB store the worker process owns the data directory; the web views and the
ClickHouse sink all go through here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from crimelink.settings import get_settings
from sinks.clickhouse import ClickHouseStore

__all__ = ["open_store", "store", "call"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
_store: ClickHouseStore | None = None


def open_store() -> ClickHouseStore:
    """Connect and apply migrations (the worker does this once, before Faust starts)."""
    global _store
    if _store is None:
        def _open() -> ClickHouseStore:
            opened = ClickHouseStore.from_settings(get_settings())
            version = opened.setup()
            log.info("ClickHouse %s ready, database %s at schema version %s", opened.where, opened.database, version)
            return opened

        _store = _executor.submit(_open).result()
    return _store


def store() -> ClickHouseStore:
    return _store if _store is not None else open_store()


async def call(function: Callable[..., T], *args: object) -> T:
    """Run a store call on the ClickHouse thread."""
    return await asyncio.get_running_loop().run_in_executor(_executor, function, *args)
