"""Records sent as aiokafka record batches, one per topic partition: the worker's agent output
(``crimelink.streams.engine.checkpoint``) and the latency benchmark's load generator send this way. Apart from the Faust
app, so the generator can use it without creating the app.

Why not Faust's ``send_soon``: its buffer sends message by message (a future, a queue hop and
callbacks each), and that cost more than the work done for an incident; sending record batches
about doubled end-to-end throughput (docs/faust-workarounds.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from aiokafka import AIOKafkaProducer

from crimelink.streams.engine.envelopes import BROKER_MESSAGE_MAX_BYTES, MAX_ENVELOPE_BYTES, partition_for
from crimelink.streams.kafka_auth import Broker, client_options

__all__ = ["MAX_RECORD_BYTES", "Output", "BatchProducer"]

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = BROKER_MESSAGE_MAX_BYTES - 1024
"""Largest key plus value sent: what the broker takes, less room for the batch's headers."""
_BATCH_BYTES = MAX_ENVELOPE_BYTES + 64 * 1024  # an envelope always fits one batch; stays below what the broker takes


class Output:
    """Records for topics, in the order added; a record without a partition goes where its key hashes to.
    A value of None is a tombstone (a table key deleted)."""

    def __init__(self) -> None:
        self.records: defaultdict[str, list[tuple[bytes | None, bytes | None, int | None]]] = defaultdict(list)

    def add(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None) -> None:
        self.records[topic].append((key, value, partition))

    def __len__(self) -> int:
        return sum(len(records) for records in self.records.values())


class BatchProducer:
    """One aiokafka producer, started on first use, that sends an :class:`Output` as record batches."""

    def __init__(self, bootstrap: Broker, client_id: str) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._starting = asyncio.Lock()
        self._partitions: dict[str, list[int]] = {}

    async def deliver(self, output: Output, *, first_delay: float = 0.5, max_delay: float = 30.0) -> None:
        """Send ``output``; returns once the broker acknowledged all of it.

        A failed send is retried whole, with backoff: the agent waits rather than drop records, and
        what a failed attempt did deliver is delivered again (at-least-once; the tables deduplicate).
        """
        delay = first_delay
        while output.records:
            try:
                await asyncio.gather(*await self.send(output))
                return
            except Exception as error:  # noqa: BLE001 - the broker being away must not stop an agent
                log.error("sending %d record(s) failed: %s; retrying in %.1fs", len(output), error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _started(self) -> AIOKafkaProducer:
        async with self._starting:
            if self._producer is None:
                # Idempotent: a batch the producer retries after a broker failover is appended once.
                producer = AIOKafkaProducer(**client_options(self._bootstrap), acks="all", enable_idempotence=True,
                                            max_batch_size=_BATCH_BYTES, client_id=self._client_id)
                await producer.start()
                self._producer = producer
        return self._producer

    async def _partitions_of(self, producer: AIOKafkaProducer, topic: str) -> list[int]:
        if topic not in self._partitions:
            self._partitions[topic] = sorted(await producer.partitions_for(topic))
        return self._partitions[topic]

    async def send(self, output: Output) -> list[asyncio.Future[Any]]:
        """Hands ``output`` to the producer as record batches; returns their delivery futures (no retry)."""
        producer = await self._started()
        sent: list[asyncio.Future[Any]] = []
        for topic, records in output.records.items():
            partitions = await self._partitions_of(producer, topic)
            by_partition: defaultdict[int, list[tuple[bytes | None, bytes | None]]] = defaultdict(list)
            for key, value, partition in records:
                if partition is None:
                    partition = partitions[partition_for(key, len(partitions))] if key is not None else partitions[0]
                by_partition[partition].append((key, value))
            for partition, items in by_partition.items():
                sent.extend(await _send_batches(producer, topic, partition, items))
        return sent


async def _send_batches(producer: AIOKafkaProducer, topic: str, partition: int,
                        items: list[tuple[bytes | None, bytes | None]]) -> list[asyncio.Future[Any]]:
    """Hands ``items`` (key, value) to ``producer`` as full record batches; returns their delivery futures."""
    futures = []
    batch = producer.create_batch()
    for key, value in items:
        size = len(value or b"") + len(key or b"")
        if size > MAX_RECORD_BYTES:
            # The broker would refuse it, and retrying would stop the agent for good.
            log.error("%s: skipped a record of %s bytes (key %r): larger than a Kafka message may be (%s bytes); the "
                      "record it came from stays in its source topic", topic, f"{size:,}", key, f"{MAX_RECORD_BYTES:,}")
            continue
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start the next
            futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)  # the first record of a batch always fits
    if batch.record_count():
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures
