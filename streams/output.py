"""What an agent produces for one step, sent as record batches, acknowledged before the agent moves on.

Why not Faust's ``send_soon``: its buffer sends message by message (a future, a queue hop and
callbacks each), and that cost more than the work done for an incident; sending record batches
about doubled end-to-end throughput (README, Performance). An agent collects its step's records in
an :class:`Output`; :func:`deliver` builds one record batch per topic partition (keys hashed as
Kafka's default partitioner does) and returns once the broker has them. Faust acknowledges an
event only when the agent asks for the next one, so offsets are never committed ahead of what the
event produced: at-least-once, as with ``send_soon``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from aiokafka import AIOKafkaProducer

from crimelink.settings import get_settings
from streams.app import app
from streams.envelopes import MAX_ENVELOPE_BYTES, partition_for
from streams.record_batches import MAX_RECORD_BYTES, send_batches

__all__ = ["MAX_RECORD_BYTES", "Output", "BatchProducer", "deliver"]

log = logging.getLogger(__name__)

_BATCH_BYTES = MAX_ENVELOPE_BYTES + 64 * 1024  # an envelope always fits one batch; stays below the broker's 1 MiB


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

    def __init__(self, bootstrap: str, client_id: str) -> None:
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
                await self._send(output)
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
                producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all", max_batch_size=_BATCH_BYTES,
                                            client_id=self._client_id)
                await producer.start()
                self._producer = producer
        return self._producer

    async def _partitions_of(self, producer: AIOKafkaProducer, topic: str) -> list[int]:
        if topic not in self._partitions:
            self._partitions[topic] = sorted(await producer.partitions_for(topic))
        return self._partitions[topic]

    async def _send(self, output: Output) -> None:
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
                sent.extend(await send_batches(producer, topic, partition, items))
        await asyncio.gather(*sent)


_shared: BatchProducer | None = None


async def deliver(output: Output) -> None:
    """Send ``output`` with the worker's one producer (see :meth:`BatchProducer.deliver`)."""
    global _shared  # noqa: PLW0603 - one producer per worker process, made on first use
    if _shared is None:
        settings = get_settings()
        _shared = BatchProducer(settings.effective_kafka_bootstrap, f"{settings.app_id}-output")
    await _shared.deliver(output)


@app.on_before_shutdown.connect
async def _stop_shared(sender: Any, **_: Any) -> None:
    global _shared  # noqa: PLW0603
    if _shared is not None:
        await _shared.stop()
        _shared = None
