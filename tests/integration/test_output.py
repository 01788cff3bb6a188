"""Agents' output as record batches on the real broker: where records land, what is skipped, and waiting
instead of dropping when the broker cannot take them yet."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from crimelink.streams.engine.checkpoint import MAX_RECORD_BYTES, BatchProducer, Output
from crimelink.streams.engine.envelopes import partition_for
from crimelink.streams.kafka_io import declare_topics
from tests.conftest import read_records

pytestmark = pytest.mark.integration


def _read(bootstrap: str, topic: str, expect: int) -> list[tuple[int, bytes | None, bytes]]:
    records = [(partition, key, value) for key, value, partition in read_records(bootstrap, topic)]
    assert len(records) == expect, [(partition, key, value[:40]) for partition, key, value in records]
    return records


def test_records_land_where_their_keys_hash_in_order_and_an_oversized_one_is_skipped(
        kafka_bootstrap: str, caplog: pytest.LogCaptureFixture) -> None:
    topic = f"output-{uuid.uuid4().hex[:8]}"
    declare_topics(kafka_bootstrap, [topic], 2)
    output = Output()
    keys = [f"northway:NW-{number}".encode() for number in range(40)]
    for number, key in enumerate(keys):
        output.add(topic, key, f"value-{number}".encode())
    output.add(topic, None, b"x" * (MAX_RECORD_BYTES + 1), partition=1)  # the broker would refuse it
    output.add(topic, None, b"envelope", partition=1)
    output.add(topic, None, b"y" * MAX_RECORD_BYTES, partition=0)  # the largest sent: the broker must take it

    async def send() -> None:
        producer = BatchProducer(kafka_bootstrap, "test-output")
        try:
            await producer.deliver(output)
        finally:
            await producer.stop()

    with caplog.at_level(logging.ERROR, logger="crimelink.streams.engine.checkpoint"):
        asyncio.run(send())
    assert f"skipped a record of {MAX_RECORD_BYTES + 1:,} bytes" in caplog.text

    records = _read(kafka_bootstrap, topic, expect=42)
    keyed = [(partition, key, value) for partition, key, value in records if key is not None]
    assert all(partition == partition_for(key, 2) for partition, key, _ in keyed if key is not None)
    for partition in (0, 1):  # each partition keeps the order the records were added in
        numbers = [int(value.split(b"-")[1]) for p, _, value in keyed if p == partition]
        assert numbers == sorted(numbers) and numbers
    assert sorted((p, len(value)) for p, key, value in records if key is None) == [(0, MAX_RECORD_BYTES), (1, 8)]


def test_delivery_waits_for_a_topic_that_does_not_exist_yet(kafka_bootstrap: str) -> None:
    topic = f"output-late-{uuid.uuid4().hex[:8]}"
    output = Output()
    output.add(topic, b"k", b"held until the topic exists")

    async def send() -> None:
        producer = BatchProducer(kafka_bootstrap, "test-output")
        try:
            delivery = asyncio.create_task(producer.deliver(output, first_delay=0.2, max_delay=0.5))
            await asyncio.sleep(1.5)
            assert not delivery.done()  # retrying, not dropped and not crashed
            await asyncio.to_thread(declare_topics, kafka_bootstrap, [topic], 1)
            await asyncio.wait_for(delivery, timeout=30)
        finally:
            await producer.stop()

    asyncio.run(send())
    assert _read(kafka_bootstrap, topic, expect=1) == [(0, b"k", b"held until the topic exists")]
