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

Registered as the ``crimelink-kafka://`` broker scheme.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aiokafka
from aiokafka import TopicPartition
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

from crimelink.settings import KafkaSettings

__all__ = ["SCHEME", "DEFAULT_FETCH_MAX_WAIT_MS", "Transport", "seek_to_committed_or_beginning"]

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
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
