"""A batch of raw records -> the normaliser's output: envelopes per partition, dead letters and their feedback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.schemas.incident import IncidentBatch
from crimelink.settings import KafkaSettings, Settings
from crimelink.simulation.feed import Simulator
from crimelink.streams.engine.envelopes import partition_for
from crimelink.streams.normalising import normalise_batch
from crimelink.streams.topics import TopicNames

NAMES = TopicNames(Settings(kafka=KafkaSettings(topic_prefix="t.")))


def _records(count: int, fault_rate: float = 0.1) -> list[RawRecord]:
    now = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    simulated = Simulator(StoreRegistry.load(), seed=11, fault_rate=fault_rate, now=now).records(count)
    return [RawRecord(record.feed_format, record.value, NAMES.raw[record.feed_format], 0, offset, now)
            for offset, record in enumerate(simulated)]


def test_a_batch_becomes_envelopes_per_partition_and_one_dead_letter_per_rejected_record() -> None:
    records = _records(300)
    batch = normalise_batch(Normaliser(StoreRegistry.load()), records, NAMES, 3)
    by_topic: dict[str, list[tuple[bytes | None, bytes, int | None]]] = {}
    for topic, records in batch.output.records.items():
        for key, value, partition in records:
            assert value is not None
            by_topic.setdefault(topic, []).append((key, value, partition))
    dead = by_topic[NAMES.dead_letters]
    incidents = [(incident, partition) for _, value, partition in by_topic[NAMES.normalised]
                 for incident in IncidentBatch.model_validate_json(value).incidents]
    assert 0 < len(dead) < 100 and len(dead) + len(incidents) == 300
    assert all(partition_for(incident.key.encode(), 3) == partition for incident, partition in incidents)
    assert {partition for _, partition in incidents} == {0, 1, 2}
    assert all(json.loads(value)["reasons"] for _, value, _ in dead)
    # the envelopes come with their models, so the worker's gate can take them back unparsed
    assert [envelope for envelope, _ in batch.envelopes] == [value for _, value, _ in by_topic[NAMES.normalised]]
    assert [incident for _, packed in batch.envelopes for incident in packed] == [incident for incident, _ in incidents]

