"""Faust's aiokafka transport with two changes: how long the broker may hold a fetch that finds no new data, and
where a stream partition with no committed offset yet is sought to when a worker (re)starts.

Fetch wait. Why: Faust fixes ``fetch_max_wait_ms`` at 1,500 ms, and aiokafka keeps one fetch in flight per
broker. Once the records already fetched are used up, the next fetch can hold only partitions that
are idle (gate commands, crime-number updates, changelogs), so the broker holds it for the full
1.5 s while a backlog waits on the busy partitions: the worker stalled for ~1.3 s at a time and a
bare Faust agent read 4k messages/s instead of 15k (bench/throughput.py). The wait is a setting
here (``CRIMELINK_FETCH_MAX_WAIT_MS``, handed to the transport as ``app.fetch_max_wait_ms``).

Seeking to the committed offsets. Why: aiokafka's ``seek_to_committed`` leaves a partition without a
committed offset wherever its fetch position is. On a (re)start, records fetched before Faust's seek
are dropped with the agents' queues when flow resumes; a partition nobody had committed yet then
carried on after them, and Faust, with no committed offset to compare with, committed past them. One
run of the restart-under-load test lost 146 records that way, all from one partition the first worker
had read but not yet committed. Such a partition now goes back to its beginning, where a fresh
consumer with ``auto_offset_reset="earliest"`` starts; what is read twice is deduplicated downstream.

Records fetched before a seek. Why: Faust's ``Consumer._drain_messages`` iterates one fetched batch across
awaits; a rebalance or restart in between seeks the partitions back to their committed offsets, and the loop
then went on delivering the old batch. The first such record, far ahead of the offset sought to, made Faust
record the offsets in between as a gap in the log (``_add_gap``, meant for compacted topics and transaction
markers), commit past them as if acknowledged, and drop them when they were read again as "already read":
``bench/chaos.py`` lost 113 of 20,581 records in one run of 20 kills that way. Now a record of a partition sought
while its fetch was made is not delivered, and the partition is sought again to its first offset not committed (so
it is read again, whether it came from before the seek or after); a record Faust was delivering while the seek
happened does not move the read position past it; and any jump in offsets on a stream partition (Faust's own
getmany drops the rest of a batch when flow stops, the generation changes or a partition is paused) is read again
from its start; only when the same jump comes straight back is it a gap of the log (transaction markers).

Commits never run ahead. Why: Faust commits the first run of consecutive acknowledged offsets without checking
that it starts where the partition's committed offset is (it checks only when that offset is known and not 0,
and lets a gap of one record through). Each partition's next offset to commit is now known from the seek, and
nothing is committed until that very offset is acknowledged (or is in a gap of the log).

An idempotent producer. Why: Faust's own producer asks for ``enable_idempotence`` only inside transactions, so a
produce request it retried after a broker failover could append a record twice; every producer crimelink runs is
idempotent and waits for all in-sync replicas.

Registered as the ``crimelink-kafka://`` broker scheme.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import aiokafka
from aiokafka import TopicPartition
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from crimelink.settings import KafkaSettings

__all__ = ["SCHEME", "DEFAULT_FETCH_MAX_WAIT_MS", "Transport", "seek_to_committed_or_beginning"]

log = logging.getLogger(__name__)

_HELD_BACK_WARNING_SECONDS = 30.0

SCHEME = "crimelink-kafka"
DEFAULT_FETCH_MAX_WAIT_MS: int = KafkaSettings.model_fields["fetch_max_wait_ms"].default
"""For an app that does not say (``app.fetch_max_wait_ms``): crimelink's own app takes it from the settings."""


async def seek_to_committed_or_beginning(consumer: aiokafka.AIOKafkaConsumer,
                                        is_stream_topic: Callable[[str], bool]) -> dict[TopicPartition, int | None]:
    """Seek every assigned partition to its committed offset, and each stream partition without one (None, or 0,
    which aiokafka does not seek to either) to its beginning. Returns the committed offsets, as aiokafka does."""
    committed: dict[TopicPartition, int | None] = await consumer.seek_to_committed()
    fresh = [tp for tp, offset in committed.items() if not offset and is_stream_topic(tp.topic)]
    if fresh:
        await consumer.seek_to_beginning(*fresh)
        for tp in fresh:  # where reading starts: the first offset that must be acknowledged before any commit
            committed[tp] = await consumer.position(tp)
    return committed


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by the fetcher aiokafka creates when the consumer starts (aiokafka 0.14: a constructor argument
        # stored as is); tests/unit/test_transport.py fails if that ever changes.
        consumer._fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS)  # noqa: SLF001
        return consumer

    async def seek_to_committed(self) -> Mapping[TopicPartition, int | None]:
        if self.app.conf.consumer_auto_offset_reset != "earliest":
            return await super().seek_to_committed()  # type: ignore[no-any-return]
        # Stream partitions are those Faust acks and commits; table changelogs are recovery's and are left alone.
        return await self.call_thread(seek_to_committed_or_beginning, self._ensure_consumer(),  # type: ignore[no-any-return]
                                      self.app.topics.acks_enabled_for)


class _Consumer(faust_aiokafka.Consumer):
    """Faust's consumer, with records fetched before a seek dropped and commits that never pass an offset not yet
    acknowledged (the module docstring says why)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Stream partitions only (those Faust acknowledges and commits; table recovery reads changelogs its own way):
        self._seeks: dict[TP, int] = {}  # how many seeks so far: a record fetched before the latest is stale
        self._seek_total = 0  # of every partition: unchanged during a fetch, no record of it is stale
        self._target: dict[TP, int] = {}  # the offset each was last sought to
        self._sought: dict[TP, int | None] = {}  # Faust's read position right after that seek
        self._first_since_seek: set[TP] = set()  # whose first record since their seek is still to come
        self._rewind: dict[TP, int] = {}  # records skipped from this offset on: seek back to it
        self._tried: dict[TP, tuple[int, int]] = {}  # the last jump (expected, got) read again from its start
        self._next_commit: dict[TP, int] = {}  # the offset that must be acknowledged before the next commit
        self._held_back_since: dict[TP, float] = {}

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _is_stream(self, tp: TP) -> bool:
        return bool(self.app.topics.acks_enabled_for(tp.topic))

    def _sought_to(self, tp: TP, offset: int | None) -> None:
        if self._is_stream(tp):
            self._seeks[tp] = self._seeks.get(tp, 0) + 1
            self._seek_total += 1
            self._first_since_seek.add(tp)
            self._sought[tp] = self._read_offset.get(tp)
            if offset is not None:
                self._target[tp] = offset

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        seeks = dict(self._seeks)  # a handful of partitions: copied once per fetch
        total = self._seek_total
        stale: set[TP] = set()
        async for tp, message in super().getmany(timeout):
            # The common case, no seek and nothing pending, costs an integer comparison and two truth tests.
            if self._seek_total != total and self._seeks.get(tp, 0) != seeks.get(tp, 0):
                stale.add(tp)  # its partition was sought while this fetch was made: not delivered, read again below
                continue
            if self._first_since_seek and tp in self._first_since_seek:
                self._first_since_seek.discard(tp)
                target = self._target.get(tp)
                if target is not None and message.offset > target:
                    self._jumped(tp, target, message.offset)
                    self._read_offset[tp] = message.offset - 1  # said here; Faust's own check would miss one record
                else:
                    self._tried.pop(tp, None)
            yield tp, message
            if self._seek_total != total and self._seeks.get(tp, 0) != seeks.get(tp, 0):
                # Sought while Faust was delivering this record, which it then marked read after the seek.
                self._read_offset[tp] = self._sought.get(tp)
            elif self._rewind and tp in self._rewind:
                await self.seek(tp, self._rewind.pop(tp))
        for tp in stale:
            # Whether a skipped record came before or after the seek, the consumer's position has moved past it: go
            # back to the first offset not committed, so each is read (again); what is read twice is deduplicated.
            offset = self._next_commit.get(tp)
            if offset is not None and tp in self.assignment():
                await self.seek(tp, offset)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Faust calls this when a record comes more than one offset after the last one delivered, and takes the
        offsets between as missing from the log. On a stream partition they are more likely records Faust fetched and
        did not deliver (its ``getmany`` drops the rest of a batch when flow stops, the generation changes or a
        partition is paused): see :meth:`_jumped`."""
        if not self._is_stream(tp):
            await super()._add_gap(tp, offset_from, offset_to)
            return
        self._jumped(tp, offset_from, offset_to)

    def _jumped(self, tp: TP, expected: int, offset: int) -> None:
        """A record at ``offset`` where ``expected`` was due. Records Faust skipped are read again (from ``expected``);
        only when the same jump comes straight after reading again from there does the log truly lack those offsets
        (transaction markers, compaction), and they become a gap that commits do not wait for."""
        if self._tried.get(tp) == (expected, offset):
            del self._tried[tp]
            self._gap[tp].addi(expected, offset)
            return
        log.info("%s[%d]: offsets %d-%d were not delivered; reading them again", tp.topic, tp.partition, expected,
                 offset - 1)
        self._tried[tp] = (expected, offset)
        self._rewind[tp] = min(expected, self._rewind.get(tp, expected))

    async def perform_seek(self) -> None:
        """Faust's (``faust.transport.consumer.Consumer.perform_seek``), remembering where each partition starts."""
        offsets = await self.seek_to_committed()
        for tp, offset in offsets.items():
            tp = TP(tp.topic, tp.partition)
            self._read_offset[tp] = offset if offset is not None and offset >= 0 else None
            self._sought_to(tp, offset)
            self._rewind.pop(tp, None)
            if offset is not None:
                self._committed_offset[tp] = offset or None
                self._next_commit[tp] = offset

    async def seek(self, partition: TP, offset: int) -> None:
        if self._is_stream(partition):  # before the seek as well: a fetch made meanwhile is stale too
            self._seeks[partition] = self._seeks.get(partition, 0) + 1
            self._seek_total += 1
        await super().seek(partition, offset)
        self._sought_to(partition, offset)

    async def on_partitions_revoked(self, revoked: Iterable[TP]) -> None:
        for tp in revoked:
            self._sought_to(tp, None)
            self._first_since_seek.discard(tp)
            for mapping in (self._target, self._sought, self._rewind, self._tried, self._next_commit,
                            self._held_back_since):
                mapping.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    def _new_offset(self, tp: TP) -> int | None:
        expected = self._next_commit.get(tp)
        acked = self._acked[tp]
        if expected is not None and acked:
            gaps = self._gap[tp]
            while gaps and gaps[expected]:  # offsets the log does not have are not waited for
                expected = max(interval.end for interval in gaps[expected])
            if min(acked) > expected:
                self._warn_held_back(tp, expected)
                return None
        self._held_back_since.pop(tp, None)
        offset: int | None = super()._new_offset(tp)
        if offset is not None:
            self._next_commit[tp] = offset
        return offset

    def _warn_held_back(self, tp: TP, expected: int) -> None:
        since = self._held_back_since.setdefault(tp, time.monotonic())
        if since and time.monotonic() - since > _HELD_BACK_WARNING_SECONDS:
            log.warning("%s[%d]: offset %d was never acknowledged, so nothing after it is committed; it is read again "
                        "after a restart", tp.topic, tp.partition, expected)
            self._held_back_since[tp] = 0.0  # said once


class _Producer(faust_aiokafka.Producer):
    """Idempotent, as every producer crimelink runs: Faust asks for it only inside transactions."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = _Producer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
