"""The gateway's Kafka: one idempotent producer with acks from all in-sync replicas (records, crime-number updates,
answers, access-log events), and a reader that keeps the answer book in step with the answers topic."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from crimelink.errors import BrokerError
from crimelink.gateway.answers import AnswerBook
from crimelink.streams.engine.record_batches import Output
from crimelink.streams.kafka_auth import Broker, address, client_options

__all__ = ["GatewayKafka", "Placed", "Message"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Placed:
    """Where the broker put a message."""

    topic: str
    partition: int
    offset: int


class GatewayKafka:
    def __init__(self, bootstrap: Broker, answers_topic: str, book: AnswerBook, client_id: str = "crimelink-gateway") -> None:
        self._bootstrap = bootstrap
        self._answers_topic = answers_topic
        self._book = book
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._following: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 60.0) -> None:
        """Connect, and read every answer given so far before the gateway takes a request."""
        try:
            self._producer = AIOKafkaProducer(**client_options(self._bootstrap), acks="all", enable_idempotence=True,
                                              client_id=self._client_id, linger_ms=2)
            await asyncio.wait_for(self._producer.start(), timeout)
            self._reader = AIOKafkaConsumer(**client_options(self._bootstrap), group_id=None, enable_auto_commit=False,
                                            client_id=f"{self._client_id}-answers", auto_offset_reset="earliest")
            await asyncio.wait_for(self._reader.start(), timeout)
            partitions = await asyncio.wait_for(self._partitions(timeout), timeout)
            self._reader.assign(partitions)
            await self._reader.seek_to_beginning(*partitions)
            await asyncio.wait_for(self._catch_up(partitions), timeout)
        except (KafkaError, OSError, TimeoutError) as error:
            await self.stop()
            raise BrokerError(f"the gateway cannot reach Kafka at {address(self._bootstrap)}: {error!r}") from error
        self._following = asyncio.create_task(self._follow(), name="gateway-answers")

    async def _partitions(self, timeout: float) -> list[TopicPartition]:
        assert self._reader is not None
        while True:
            found = self._reader.partitions_for_topic(self._answers_topic)
            if found:
                return [TopicPartition(self._answers_topic, partition) for partition in sorted(found)]
            await self._reader._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public refresh
            await asyncio.sleep(0.2)

    async def _catch_up(self, partitions: list[TopicPartition]) -> None:
        assert self._reader is not None
        ends = await self._reader.end_offsets(partitions)
        for partition, end in ends.items():
            while await self._reader.position(partition) < end:
                await self._read(1.0)

    async def _read(self, wait: float) -> None:
        assert self._reader is not None
        batches = await self._reader.getmany(timeout_ms=int(wait * 1000), max_records=5000)
        for records in batches.values():
            for record in records:
                if record.key is not None:
                    self._book.load(record.key, record.value)

    async def _follow(self) -> None:
        while True:
            try:
                await self._read(1.0)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep following; the log says why
                log.exception("reading the gateway's answers topic failed; retrying")
                await asyncio.sleep(1.0)

    async def place(self, messages: Sequence[Message]) -> list[Placed]:
        """Send ``messages`` together; returns once the broker has all of them (all in-sync replicas), in order."""
        producer = self._ready()
        futures = [await producer.send(message.topic, message.value, key=message.key, headers=list(message.headers))
                   for message in messages]
        placed = []
        for future in futures:
            metadata = await future
            placed.append(Placed(metadata.topic, metadata.partition, metadata.offset))
        return placed

    async def deliver(self, output: Output) -> None:
        """The access log's way out (:class:`crimelink.streams.audit.AuditTrail`): an :class:`Output`, acknowledged."""
        await self.place([Message(topic, key or b"", value or b"") for topic, records in output.records.items()
                          for key, value, _ in records])

    def _ready(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise BrokerError("the gateway is not connected to Kafka")
        return self._producer

    async def stop(self) -> None:
        if self._following is not None:
            self._following.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._following
            self._following = None
        for client in (self._reader, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        self._reader = self._producer = None
