"""Retention by purpose on the topics (the tables' TTLs: tests/unit/test_clickhouse_store.py)."""

from __future__ import annotations

from crimelink.settings import KafkaSettings, Settings


def test_topics_keep_personal_data_only_as_long_as_their_purpose_needs() -> None:
    from crimelink.settings import ClickHouseSettings
    from crimelink.streams.topics import TopicNames

    names = TopicNames(Settings(kafka=KafkaSettings(raw_retention_hours=48, retailer_channels="quikmart"),
                                clickhouse=ClickHouseSettings(dead_letter_retention_days=10)))
    channel = names.channels["quikmart"]
    retailers_write = (*names.raw.values(), names.crime_number_updates, *channel.raw.values(), channel.crime_number_updates)
    assert set(retailers_write) <= set(names.all())
    for topic in retailers_write:  # the broker's time of receipt, and kept only as long as a replay needs
        assert names.configs(topic) == {"message.timestamp.type": "LogAppendTime", "retention.ms": str(48 * 3_600_000)}
    assert [names.channel_of(topic) for topic in retailers_write] == [None] * 4 + ["quikmart"] * 4
    assert names.feed_of(channel.raw["bcp_csv"]) == "bcp_csv" and names.feed_of(channel.crime_number_updates) is None
    assert names.configs(names.dead_letters) == {"retention.ms": str(10 * 86_400_000)}
    assert TopicNames(Settings()).configs(names.raw["national_grocer"])["retention.ms"] == str(72 * 3_600_000)
