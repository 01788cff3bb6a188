"""Where a restarted worker's stream partitions are sought to, on the real broker (streams/engine/transport.py).

aiokafka's ``seek_to_committed`` leaves a partition with no committed offset at its fetch position, so
records fetched before the seek and dropped with the agents' queues were never read again. These
tests pin that premise and the transport's answer: such a partition goes back to its beginning.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from crimelink.streams.engine.transport import seek_to_committed_or_beginning
from crimelink.streams.kafka_io import Publisher, declare_topics

pytestmark = pytest.mark.integration


async def _read_all(consumer: AIOKafkaConsumer, count: int) -> None:
    read = 0
    while read < count:
        batch = await consumer.getmany(timeout_ms=5000)
        assert batch, f"only {read} of {count} records arrived"
        read += sum(len(records) for records in batch.values())


def test_a_partition_nobody_committed_goes_back_to_its_beginning(kafka_bootstrap: str) -> None:
    topic = f"seek-{uuid.uuid4().hex[:8]}"
    declare_topics(kafka_bootstrap, [topic], 1)
    with Publisher(kafka_bootstrap) as publisher:
        for number in range(10):
            publisher.send(topic, f"record {number}".encode())
    partition = TopicPartition(topic, 0)

    async def run() -> list[int]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=f"seek-{uuid.uuid4().hex[:8]}",
                                    enable_auto_commit=False, auto_offset_reset="earliest")
        await consumer.start()
        try:
            positions = []
            await _read_all(consumer, 10)  # fetched before the seek, as a restarting worker may have done
            await consumer.seek_to_committed()
            positions.append(await consumer.position(partition))  # aiokafka alone: it stays after them
            await seek_to_committed_or_beginning(consumer, lambda name: False)
            positions.append(await consumer.position(partition))  # not a stream topic (a changelog): left alone
            await seek_to_committed_or_beginning(consumer, lambda name: name == topic)
            positions.append(await consumer.position(partition))  # a stream partition: read again from the start
            await consumer.commit({partition: 4})
            await _read_all(consumer, 10)
            await seek_to_committed_or_beginning(consumer, lambda name: name == topic)
            positions.append(await consumer.position(partition))  # committed: its committed offset, as before
            return positions
        finally:
            await consumer.stop()

    assert asyncio.run(run()) == [10, 10, 0, 4]
