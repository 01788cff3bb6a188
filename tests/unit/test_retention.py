"""Retention by purpose on the topics (the tables' TTLs: tests/unit/test_clickhouse_store.py)."""

from __future__ import annotations

from crimelink.settings import KafkaSettings, Settings


def test_topics_keep_personal_data_only_as_long_as_their_purpose_needs() -> None:
    from crimelink.settings import ClickHouseSettings
    from crimelink.streams.topics import TopicNames

    names = TopicNames(Settings(kafka=KafkaSettings(raw_retention_hours=48),
                                clickhouse=ClickHouseSettings(dead_letter_retention_days=10)))
    for topic in (*names.raw.values(), names.crime_number_updates):
        assert names.configs(topic)["retention.ms"] == str(48 * 3_600_000)
    assert names.configs(names.dead_letters) == {"retention.ms": str(10 * 86_400_000)}
    assert TopicNames(Settings()).configs(names.raw["national_grocer"])["retention.ms"] == str(72 * 3_600_000)
