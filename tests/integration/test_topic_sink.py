"""The ClickHouse sink on the real broker and the real engine: offsets are committed only once rows are stored."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable

from kafka import KafkaConsumer, TopicPartition

from crimelink.sinks.clickhouse import BatchSink, ClickHouseStore
from crimelink.sinks.tables import incident_identities, incidents, sink_rejects
from crimelink.streams.engine.topic_sink import Route, TopicSink
from crimelink.streams.kafka_io import Publisher, declare_topics
from tests.conftest import checked_incident


def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return consumer.committed(TopicPartition(topic, 0))
    finally:
        consumer.close()


async def _until(predicate: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _now(value: bool) -> bool:
    return value


async def _equals(value: Awaitable[int | None], expected: int) -> bool:
    return await value == expected


def test_rows_survive_a_store_outage_and_offsets_wait_for_them(kafka_bootstrap: str, store: ClickHouseStore) -> None:
    topic, group = f"sink-{uuid.uuid4().hex[:8]}", f"sink-test-{uuid.uuid4().hex[:8]}"
    declare_topics(kafka_bootstrap, [topic], 1)
    with Publisher(kafka_bootstrap) as publisher:
        for number in range(5):
            publisher.send(topic, json.dumps(checked_incident(incident={"id": f"S-{number}", "revision": 1})).encode())
        publisher.send(topic, b"not json")  # crimelink never writes this; the sink must skip it, not stop
    # The table does not exist yet: every insert fails, as when ClickHouse is down.
    rows = BatchSink(store, "incidents_later", incidents.TABLE.insert_columns,
                     lambda record: incidents.row(record, store.pseudonyms))
    attempts: list[int] = []

    async def run_blocking(function):  # type: ignore[no-untyped-def]
        attempts.append(len(function.args[0]))  # the rows of this attempt, held while the table is missing
        return await asyncio.to_thread(function)

    async def committed() -> int | None:
        return await asyncio.to_thread(_committed, kafka_bootstrap, group, topic)

    async def scenario() -> tuple[int | None, int | None, int]:
        sink = TopicSink(bootstrap=kafka_bootstrap, group_id=group, routes=[Route(topic, rows)], run_blocking=run_blocking,
                         batch_size=100, flush_seconds=0.2, first_retry_delay=0.05, max_retry_delay=0.1)
        await sink.start()
        try:
            await _until(lambda: _now(len(attempts) >= 3 and attempts[-1] == 5))
            during_outage = await committed()
            store.command(f"CREATE TABLE `{store.database}`.incidents_later AS `{store.database}`.incidents")
            await _until(lambda: _now(rows.written == 5))
            await _until(lambda: _equals(committed(), 6))
            after = await committed()
        finally:
            await sink.stop()
        return during_outage, after, sink.skipped

    during_outage, after, skipped = asyncio.run(scenario())
    assert during_outage is None  # nothing committed while the rows were not stored
    assert after == 6 and skipped == 1
    stored = store.query("SELECT incident_id FROM incidents_later ORDER BY incident_id").rows
    assert stored == [(f"S-{number}",) for number in range(5)]


def test_a_round_stores_and_commits_only_what_was_read_before_it_began(kafka_bootstrap: str,
                                                                      store: ClickHouseStore) -> None:
    """A stop or a rebalance stores and commits while the sink may still be reading: what it reads meanwhile must be
    neither committed nor dropped by that round. Committing it lost rows when a worker stopped under load."""
    token = uuid.uuid4().hex[:8]
    first, second, group = f"sink-a-{token}", f"sink-b-{token}", f"sink-test-{token}"
    declare_topics(kafka_bootstrap, [first, second], 1)
    first_rows = BatchSink.for_table(store, incidents.TABLE)
    second_rows = BatchSink.for_table(store, incidents.TABLE)

    def publish(topic: str, numbers: range) -> None:
        with Publisher(kafka_bootstrap) as publisher:
            for number in numbers:
                incident = checked_incident(incident={"id": f"{topic}-{number}", "revision": 1})
                publisher.send(topic, json.dumps(incident).encode())

    def stored_from(topic: str) -> int:
        return int(store.query(f"SELECT count() FROM incidents WHERE incident_id LIKE '{topic}-%'").rows[0][0])

    async def committed(topic: str) -> int | None:
        return await asyncio.to_thread(_committed, kafka_bootstrap, group, topic)

    async def scenario() -> None:
        inserting_second = asyncio.Event()
        release = asyncio.Event()

        async def run_blocking(function):  # type: ignore[no-untyped-def]
            if function.func.__self__ is second_rows and not release.is_set():
                inserting_second.set()  # the first table's rows are in; this round is half done
                await release.wait()
            return await asyncio.to_thread(function)

        sink = TopicSink(bootstrap=kafka_bootstrap, group_id=group, routes=[Route(first, first_rows),
                         Route(second, second_rows)], run_blocking=run_blocking, batch_size=100, flush_seconds=0.5)
        await sink.on_start()  # the consumer only: the test drives reading and storing itself
        try:
            publish(first, range(5))
            publish(second, range(1))
            taken = 0
            while taken < 6:
                taken += await sink.take_batch()
            round_one = asyncio.ensure_future(sink.store_and_commit())
            await asyncio.wait_for(inserting_second.wait(), 30)
            publish(first, range(5, 10))
            while taken < 11:  # read while round one is still storing
                taken += await sink.take_batch()
            release.set()
            await round_one
            assert stored_from(first) == 5
            assert await committed(first) == 5  # not 10: rows 5-9 are not stored yet
            assert len(first_rows) == 5  # and not dropped
            await sink.store_and_commit()
            assert stored_from(first) == 10 and await committed(first) == 10
            assert stored_from(second) == 1 and await committed(second) == 1
        finally:
            await sink.on_stop()

    asyncio.run(scenario())


def test_two_tables_from_one_topic_get_a_row_of_each_message_or_neither(kafka_bootstrap: str,
                                                                       store: ClickHouseStore) -> None:
    """incidents and incident_identities are written from the same topic: a message one of them cannot make a row of
    is set aside whole, so neither table holds half of it."""
    topic, group = f"sink-two-{uuid.uuid4().hex[:8]}", f"sink-test-{uuid.uuid4().hex[:8]}"
    declare_topics(kafka_bootstrap, [topic], 1)
    with Publisher(kafka_bootstrap) as publisher:
        for number in range(3):
            publisher.send(topic, json.dumps(checked_incident(incident={"id": f"T-{number}", "revision": 1})).encode())

    def identities(record: dict[str, object]) -> list[object]:
        if record["incident_id"] == "T-1":
            raise ValueError("this builder cannot read T-1")
        return incident_identities.row(record, store.pseudonyms)

    first = BatchSink.for_table(store, incidents.TABLE)
    second = BatchSink(store, "incident_identities", incident_identities.TABLE.insert_columns, identities)

    async def run_blocking(function):  # type: ignore[no-untyped-def]
        return await asyncio.to_thread(function)

    async def scenario() -> None:
        sink = TopicSink(bootstrap=kafka_bootstrap, group_id=group, routes=[Route(topic, first), Route(topic, second)],
                         run_blocking=run_blocking, rejects=BatchSink.for_table(store, sink_rejects.TABLE),
                         batch_size=100, flush_seconds=0.5)
        await sink.on_start()
        try:
            taken = 0
            while taken < 3:
                taken += await sink.take_batch()
            await sink.store_and_commit()
        finally:
            await sink.on_stop()

    asyncio.run(scenario())
    for table in ("incidents", "incident_identities"):
        assert store.query(f"SELECT incident_id FROM {table} WHERE incident_id LIKE 'T-%' ORDER BY incident_id").rows \
            == [("T-0",), ("T-2",)], table
    [(error,)] = store.query("SELECT error FROM sink_rejects WHERE topic = {t:String}", {"t": topic}).rows
    assert "cannot read T-1" in error
