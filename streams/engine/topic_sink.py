"""Topics of record -> ClickHouse tables, read with a plain aiokafka consumer instead of a Faust agent.

Why not a Faust agent: a sink keeps no state and re-keys nothing, yet Faust's per-event machinery
cost more per message than parsing and inserting it (bench/throughput.py). The contract stays the
one every sink here keeps: a batch's rows are inserted, and only then are the offsets of the
messages they came from committed. An insert that fails because of the store (unreachable, full:
``SinkWriteError.transient``) is retried with backoff and nothing is committed meanwhile, so a worker
killed while ClickHouse is down re-reads the batch; the tables deduplicate the replay. An insert the
store refuses because of a row is split in halves until the row is found; that row is set aside in
``sink_rejects`` (with the error, its topic, partition and offset, and the message) and the rest of
the batch is stored. One bad row once stopped its table's partition for good.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from mode import Service

from crimelink.errors import SinkWriteError
from crimelink.sinks.clickhouse import BatchSink
from crimelink.sinks.tables.sink_rejects import reject
from crimelink.streams.kafka_auth import Broker, client_options

__all__ = ["Route", "TopicSink"]

log = logging.getLogger(__name__)
T = TypeVar("T")
RunBlocking = Callable[[Callable[[], T]], Awaitable[T]]


@dataclass(frozen=True)
class Route:
    """One topic into one table; ``after`` sees each raw value once its row is stored (alert webhooks). Several routes
    may read one topic (``incidents`` and ``incident_identities``): a message is parsed once and makes a row of each,
    or of none."""

    topic: str
    sink: BatchSink[Any]
    after: Callable[[bytes], None] | None = None
    parse: Callable[[bytes], Any] = orjson.loads


@dataclass(frozen=True, slots=True)
class _Source:
    """Where a row came from: to set it aside with its message, and to call its route's ``after`` once stored."""

    partition: int
    offset: int
    value: bytes


class TopicSink(Service):
    """Consumes every route's topic in one consumer group; one insert per table per batch, then one commit."""

    def __init__(self, *, bootstrap: Broker, group_id: str, routes: Sequence[Route], run_blocking: RunBlocking[Any],
                 group_instance_id: str | None = None, rejects: BatchSink[Any] | None = None,
                 batch_size: int = 1000, flush_seconds: float = 1.0, fetch_max_wait_ms: int = 500,
                 first_retry_delay: float = 0.5, max_retry_delay: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.group_instance_id = group_instance_id  # static membership (crimelink.streams.engine.membership)
        self.routes: dict[str, list[Route]] = {}
        for route in routes:
            self.routes.setdefault(route.topic, []).append(route)
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.first_retry_delay = first_retry_delay
        self.max_retry_delay = max_retry_delay
        self._run_blocking = run_blocking
        self._consumer: AIOKafkaConsumer | None = None
        self._pending: dict[TopicPartition, int] = {}  # next offset to commit, once the rows are stored
        self._sources: dict[str, list[_Source]] = {topic: [] for topic in self.routes}  # in step with each route's rows
        # (every route of a topic gets a row of every message it keeps, so one list of sources serves them all)
        self._rejects = rejects  # the sink_rejects table; None: refused rows are only logged
        self._refused: list[dict[str, Any]] = []  # set aside, stored before the offsets are committed
        self._lock = asyncio.Lock()
        self.stored = 0
        self.skipped = 0  # messages set aside (sink_rejects), however they failed

    async def on_start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **client_options(self.bootstrap), group_id=self.group_id, group_instance_id=self.group_instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest", max_poll_records=self.batch_size, fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        await self._consumer.start()
        self._consumer.subscribe(list(self.routes), listener=_StoreBeforeRevoke(self))

    async def on_stop(self) -> None:
        if self._consumer is not None:
            try:
                await self.store_and_commit()
            except SinkWriteError as error:  # stopping: offsets stay where the stored rows end, and are read again
                log.warning("%s: stopping with rows not stored (%s); the next worker reads them again", self.group_id,
                            error)
            async with self._lock:  # a round still running commits no more once the consumer is going
                consumer, self._consumer = self._consumer, None
                await consumer.stop()

    @Service.task
    async def _run(self) -> None:
        while not self.should_stop:
            await self.take_batch()
            try:
                await self.store_and_commit()
            except SinkWriteError:
                if not self.should_stop:
                    raise
                return  # the store is down and the worker stopping: nothing more is committed

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
                routes = self.routes[partition.topic]
                for record in records:
                    self._add(routes, _Source(partition.partition, record.offset, record.value or b""))
                self._pending[partition] = records[-1].offset + 1
                taken += len(records)
        return taken

    def _add(self, routes: list[Route], source: _Source) -> None:
        try:
            parsed = routes[0].parse(source.value)
            rows = [route.sink.row_of(parsed) for route in routes]
        except Exception as error:  # noqa: BLE001 - crimelink wrote this value; one bad one must not stop the table's sink
            self._set_aside(routes[0], source, f"the message does not make a row: {type(error).__name__}: {error}")
            return
        for route, row in zip(routes, rows, strict=True):
            route.sink.append(row)
        self._sources[routes[0].topic].append(source)

    def _set_aside(self, route: Route, source: _Source, error: str) -> None:
        self.skipped += 1
        log.error("%s: set aside %s[%d]@%d (sink_rejects): %s", route.sink.table, route.topic, source.partition,
                  source.offset, error)
        self._refused.append(reject(route.sink.table, route.topic, source.partition, source.offset, source.value, error,
                                    datetime.now(UTC).isoformat()))

    async def store_and_commit(self) -> None:
        """Insert every table's rows (retrying until it works), then commit the offsets they came from.

        What was read so far is taken as one snapshot, with no await in between: a stop or a rebalance calls this
        while :meth:`take_batch` may still be reading, and what it reads meanwhile is the next round's to insert and
        to commit. (Committing offsets read after a table's insert, as this once did, lost those rows when the worker
        then stopped.)
        """
        async with self._lock:
            batches = [(route, route.sink.take(), self._sources[topic])
                       for topic, routes in self.routes.items() for route in routes]
            self._sources = {topic: [] for topic in self.routes}
            pending, self._pending = self._pending, {}
            for route, rows, sources in batches:
                if rows:
                    stored = await self._store(route, rows, sources)
                    self.stored += len(stored)
                    if route.after is not None:
                        for source in stored:
                            route.after(source.value)
            refused, self._refused = self._refused, []
            if refused and self._rejects is not None:
                self._rejects.add_all(refused)
                try:
                    await self._write(self._rejects, self._rejects.take())
                except SinkWriteError as error:  # the messages' error lines above are then all that is left of them
                    log.error("%s: %d set-aside message(s) could not be kept either: %s", self._rejects.table,
                              len(refused), error)
            if pending and self._consumer is not None:
                try:
                    await self._consumer.commit(pending)
                except (CommitFailedError, KafkaError) as error:
                    # The rows are stored; whoever owns the partitions now re-reads them, and the tables deduplicate.
                    log.warning("%s: committing %d partitions failed after the rows were stored: %s",
                                self.group_id, len(pending), error)

    async def _store(self, route: Route, rows: list[list[Any]], sources: list[_Source]) -> list[_Source]:
        """Insert ``rows``; a batch the store refuses is split until each refused row is alone, and that row is set
        aside. Returns the sources of the rows stored."""
        try:
            await self._write(route.sink, rows)
            return sources
        except SinkWriteError as error:
            if len(rows) == 1:
                self._set_aside(route, sources[0], str(error.__cause__ or error))
                return []
            middle = len(rows) // 2
            return [*await self._store(route, rows[:middle], sources[:middle]),
                    *await self._store(route, rows[middle:], sources[middle:])]

    async def _write(self, sink: BatchSink[Any], rows: list[list[Any]]) -> int:
        """One insert, retried while the store is the problem (``SinkWriteError.transient``); raises when the rows are."""
        delay = self.first_retry_delay
        while True:
            try:
                return await self._run_blocking(partial(sink.write, rows))
            except SinkWriteError as error:
                if not error.transient or self.should_stop:  # stopping: a bounded shutdown waits on no retry
                    raise
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
