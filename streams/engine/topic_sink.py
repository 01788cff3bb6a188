"""Topics of record -> ClickHouse tables, read with a plain aiokafka consumer instead of a Faust agent.

Why not a Faust agent: a sink keeps no state and re-keys nothing, yet Faust's per-event machinery
cost more per message than parsing and inserting it (bench/throughput.py). The contract stays the
one every sink here keeps: a batch's rows are inserted, and only then are the offsets of the
messages they came from committed. A failed insert is retried with backoff and nothing is
committed meanwhile, so a worker killed while ClickHouse is down re-reads the batch; the tables
deduplicate the replay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from mode import Service

from crimelink.errors import SinkWriteError
from crimelink.sinks.clickhouse import BatchSink

__all__ = ["Route", "TopicSink"]

log = logging.getLogger(__name__)
T = TypeVar("T")
RunBlocking = Callable[[Callable[[], T]], Awaitable[T]]


@dataclass(frozen=True)
class Route:
    """One topic into one table; ``after`` sees each raw value once its row is stored (alert webhooks)."""

    topic: str
    sink: BatchSink[Any]
    after: Callable[[bytes], None] | None = None
    parse: Callable[[bytes], Any] = orjson.loads


class TopicSink(Service):
    """Consumes every route's topic in one consumer group; one insert per table per batch, then one commit."""

    def __init__(self, *, bootstrap: str, group_id: str, routes: Sequence[Route], run_blocking: RunBlocking[Any],
                 batch_size: int = 1000, flush_seconds: float = 1.0, fetch_max_wait_ms: int = 500,
                 first_retry_delay: float = 0.5, max_retry_delay: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.routes = {route.topic: route for route in routes}
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.first_retry_delay = first_retry_delay
        self.max_retry_delay = max_retry_delay
        self._run_blocking = run_blocking
        self._consumer: AIOKafkaConsumer | None = None
        self._pending: dict[TopicPartition, int] = {}  # next offset to commit, once the rows are stored
        self._after: list[tuple[Callable[[bytes], None], bytes]] = []
        self._lock = asyncio.Lock()
        self.stored = 0
        self.skipped = 0

    async def on_start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=self.batch_size, fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        await self._consumer.start()
        self._consumer.subscribe(list(self.routes), listener=_StoreBeforeRevoke(self))

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await self.store_and_commit()
            async with self._lock:  # a round still running commits no more once the consumer is going
                consumer, self._consumer = self._consumer, None
                await consumer.stop()

    @Service.task
    async def _run(self) -> None:
        while not self.should_stop:
            await self.take_batch()
            await self.store_and_commit()

    async def take_batch(self) -> int:
        """Read until ``batch_size`` messages or ``flush_seconds`` have passed; returns how many were read."""
        assert self._consumer is not None, "start the sink first"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.flush_seconds
        taken = 0
        while taken < self.batch_size and not self.should_stop:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            batch = await self._consumer.getmany(timeout_ms=int(remaining * 1000) + 1, max_records=self.batch_size - taken)
            for partition, records in batch.items():
                route = self.routes[partition.topic]
                for record in records:
                    self._add(route, record.value or b"")
                self._pending[partition] = records[-1].offset + 1
                taken += len(records)
        return taken

    def _add(self, route: Route, value: bytes) -> None:
        try:
            route.sink.add(route.parse(value))
        except Exception:  # noqa: BLE001 - crimelink wrote this value; one bad one must not stop the table's sink
            self.skipped += 1
            log.exception("%s: skipped a value that does not parse: %.200r", route.sink.table, value)
            return
        if route.after is not None:
            self._after.append((route.after, value))

    async def store_and_commit(self) -> None:
        """Insert every table's rows (retrying until it works), then commit the offsets they came from.

        What was read so far is taken as one snapshot, with no await in between: a stop or a rebalance calls this
        while :meth:`take_batch` may still be reading, and what it reads meanwhile is the next round's to insert and
        to commit. (Committing offsets read after a table's insert, as this once did, lost those rows when the worker
        then stopped.)
        """
        async with self._lock:
            batches = [(route.sink, route.sink.take()) for route in self.routes.values()]
            after, self._after = self._after, []
            pending, self._pending = self._pending, {}
            for sink, rows in batches:
                if rows:
                    self.stored += await self._store(sink, rows)
            for callback, value in after:
                callback(value)
            if pending and self._consumer is not None:
                try:
                    await self._consumer.commit(pending)
                except (CommitFailedError, KafkaError) as error:
                    # The rows are stored; whoever owns the partitions now re-reads them, and the tables deduplicate.
                    log.warning("%s: committing %d partitions failed after the rows were stored: %s",
                                self.group_id, len(pending), error)

    async def _store(self, sink: BatchSink[Any], rows: list[list[Any]]) -> int:
        delay = self.first_retry_delay
        while True:
            try:
                return await self._run_blocking(partial(sink.write, rows))
            except SinkWriteError as error:
                log.error("%s; retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)


class _StoreBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Store and commit what was read from partitions before another worker takes them over."""

    def __init__(self, sink: TopicSink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._sink.store_and_commit()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None
