"""Committed offsets carried from one consumer group to another on the real broker (``crimelink.streams.kafka_io.carry_offsets``):
forward only, only the topics named, and never under a group's running members."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from crimelink.streams.kafka_io import carry_offsets, declare_topics

pytestmark = pytest.mark.integration


@pytest.fixture
def topics(kafka_bootstrap: str) -> Iterator[tuple[str, str]]:
    """Two topics of two partitions (the broker takes any committed offset, so they need no records)."""
    token = uuid.uuid4().hex[:8]
    names = (f"carry-a-{token}", f"carry-b-{token}")
    declare_topics(kafka_bootstrap, names, 2)
    yield names


def _commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.alter_group_offsets(group, {partition: OffsetAndMetadata(offset, "", -1) for partition, offset in offsets.items()})
    finally:
        admin.close()


def _committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return {partition: meta.offset for partition, meta in admin.list_group_offsets({group: None})[group].items()}
    finally:
        admin.close()


def test_a_group_moves_up_to_the_furthest_other_group_on_the_topics_named(kafka_bootstrap: str, topics) -> None:  # type: ignore[no-untyped-def]
    a, b = topics
    old, other, new = (f"carry-{name}-{uuid.uuid4().hex[:6]}" for name in ("old", "other", "new"))
    _commit(kafka_bootstrap, old, {TopicPartition(a, 0): 7, TopicPartition(a, 1): 2, TopicPartition(b, 0): 9})
    _commit(kafka_bootstrap, other, {TopicPartition(a, 0): 4, TopicPartition(a, 1): 5})
    _commit(kafka_bootstrap, new, {TopicPartition(a, 0): 8})  # already further than both: stays

    moved = carry_offsets(kafka_bootstrap, new, [old, other], [a])

    assert moved == {TopicPartition(a, 1): 5}
    assert _committed(kafka_bootstrap, new) == {TopicPartition(a, 0): 8, TopicPartition(a, 1): 5}  # b was not named
    assert carry_offsets(kafka_bootstrap, new, [old, other], [a]) == {}  # nothing left to move


def test_nothing_moves_while_the_group_has_members(kafka_bootstrap: str, topics) -> None:  # type: ignore[no-untyped-def]
    a, _ = topics
    old, new = f"carry-old-{uuid.uuid4().hex[:6]}", f"carry-new-{uuid.uuid4().hex[:6]}"
    _commit(kafka_bootstrap, old, {TopicPartition(a, 0): 6})
    member = KafkaConsumer(a, bootstrap_servers=kafka_bootstrap, group_id=new, enable_auto_commit=False)
    try:
        member.poll(timeout_ms=5000)  # joins the group
        assert member.assignment()
        assert carry_offsets(kafka_bootstrap, new, [old], [a]) == {}
    finally:
        member.close()
    assert _committed(kafka_bootstrap, new) == {}
    assert carry_offsets(kafka_bootstrap, new, [old], [a]) == {TopicPartition(a, 0): 6}  # once it is empty
