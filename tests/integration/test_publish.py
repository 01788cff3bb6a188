"""The simulated feed's publisher counts what it sends: the demo's live view compares that count with what was
stored, and once showed more stored than published (the planted groups' records were sent but not counted)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from crimelink.cli.publish import publish_simulation
from crimelink.intake.stores import StoreRegistry
from crimelink.settings import KafkaSettings, Settings
from crimelink.simulation.feed import Simulator
from crimelink.streams.kafka_io import declare_topics
from crimelink.streams.topics import TopicNames
from tests.conftest import read_records

pytestmark = pytest.mark.integration


def test_planted_records_are_published_and_counted(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, kafka=KafkaSettings(bootstrap=kafka_bootstrap,
                                                           topic_prefix=f"p{uuid.uuid4().hex[:6]}.", topic_partitions=1))
    names = TopicNames(settings)
    declare_topics(kafka_bootstrap, names.all(), 1, names.partitions)
    planted = list(Simulator(StoreRegistry.load(), seed=99).records(5))
    progress: list[int] = []
    published = publish_simulation(settings, count=40, rate=0, planted=planted, planted_every=8,
                                   progress=progress.append)
    on_the_topics = sum(len(read_records(kafka_bootstrap, topic)) for topic in names.raw.values())
    assert published == on_the_topics == 45  # 40 simulated, one planted before each eighth
    assert progress[-1] == 45 and progress == sorted(progress)
