"""Records for one topic partition as aiokafka record batches; apart from the Faust app, so a benchmark's load
generator sends the way the worker does without creating the app."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer

__all__ = ["MAX_RECORD_BYTES", "send_batches"]

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 1024 * 1024 - 1024
"""Largest key plus value sent: the broker's default ``message.max.bytes`` (1 MiB), less room for the batch's headers."""


async def send_batches(producer: AIOKafkaProducer, topic: str, partition: int,
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
