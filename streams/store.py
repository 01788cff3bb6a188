"""The worker's one ClickHouse connection, used from one thread so the event loop never blocks on it.

With the embedded chDB store the worker process owns the data directory; the web views and the
sink agents all go through here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from crimelink.errors import SinkWriteError
from crimelink.settings import get_settings
from sinks.clickhouse import BatchSink, ClickHouseStore

__all__ = ["open_store", "store", "call", "flush_with_retry", "drain"]

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


async def flush_with_retry(sink: BatchSink[object], *, first_delay: float = 0.5, max_delay: float = 30.0) -> int:
    """Flush, retrying with backoff until it succeeds: the stream waits rather than drop rows.

    Offsets of the batch are only acknowledged after this returns, so a worker killed while
    ClickHouse is down re-reads the batch on restart; the tables deduplicate the replay.
    """
    delay = first_delay
    while True:
        try:
            return await call(sink.flush)
        except SinkWriteError as error:
            log.error("%s; retrying in %.1fs", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


async def drain(stream: Any, sink: BatchSink[Any], parse: Callable[[bytes], Any],
                after: Callable[[list[bytes]], None] | None = None) -> None:
    """The body of every sink agent: batches from the stream, one insert each, offsets acknowledged after the write.

    A value that does not parse (it was written by crimelink itself, so this is a bug) is logged and skipped
    rather than stopping the sink; it stays in Kafka for inspection.
    """
    settings = get_settings()
    async for values in stream.take(settings.sink_batch_size, within=settings.sink_flush_seconds):
        for value in values:
            try:
                sink.add(parse(value))
            except Exception:  # noqa: BLE001 - one bad value must not stop the table's sink
                log.exception("%s: skipped a value that does not parse: %.200r", sink.table, value)
        await flush_with_retry(sink)
        if after is not None:
            after(values)
