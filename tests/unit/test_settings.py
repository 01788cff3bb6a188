"""The one settings object: grouped, read from the documented CRIMELINK_ variables and from nothing else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from crimelink.settings import KafkaSettings, Settings, SinkSettings, variables


def test_grouped_fields_read_the_documented_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRIMELINK_TOPIC_PREFIX", "t1.")
    monkeypatch.setenv("CRIMELINK_CORRELATION_WINDOW_DAYS", "3")
    monkeypatch.setenv("CRIMELINK_SINK_BATCH_SIZE", "77")
    monkeypatch.setenv("CRIMELINK_BATCH_SIZE", "9")
    monkeypatch.setenv("CRIMELINK_WORKER_ROLE", "intake")
    settings = Settings()
    assert settings.kafka.topic_prefix == "t1." and settings.linkage.window_days == 3
    assert (settings.sink.batch_size, settings.worker.batch_size) == (77, 9)  # same field name, two groups, no clash
    assert settings.intake_only


def test_nothing_outside_the_crimelink_namespace_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOME", "PORT", "HOST", "DSN", "ROLE", "BOOTSTRAP", "DATABASE", "PASSWORD", "BATCH_SIZE"):
        monkeypatch.setenv(name, "9")
    settings = Settings()
    assert str(settings.home) == ".crimelink" and settings.web.port == 6066 and settings.web.host == "127.0.0.1"
    assert settings.worker.role == "worker" and settings.kafka.bootstrap == "" and settings.clickhouse.password is None


@pytest.mark.parametrize("value", ["http://a,http://b", '["http://a", "http://b"]'])
def test_webhooks_take_the_comma_separated_and_the_json_form(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CRIMELINK_ALERT_WEBHOOKS", value)
    assert SinkSettings().alert_webhooks == ["http://a", "http://b"]


def test_constructors_take_field_names_and_replace_copies_one_group() -> None:
    settings = Settings(kafka=KafkaSettings(bootstrap="h:1", topic_prefix="x."))
    moved = settings.replace(kafka={"bootstrap": "h:2"})
    assert (moved.kafka.bootstrap, moved.kafka.topic_prefix, settings.kafka.bootstrap) == ("h:2", "x.", "h:1")


def test_every_variable_is_listed_once_with_a_description_and_secrets_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRIMELINK_CLICKHOUSE_PASSWORD", "hunter2")
    rows = variables(Settings())
    names = [name for name, _, _ in rows]
    assert len(names) == len(set(names)) and all(name.startswith("CRIMELINK_") for name in names)
    assert all(description for _, _, description in rows)
    assert dict((name, value) for name, value, _ in rows)["CRIMELINK_CLICKHOUSE_PASSWORD"] == "**********"
    assert "hunter2" not in repr(rows)


def test_every_variable_is_documented() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    rows = {line.split("|")[1].strip().strip("`") for line in page.splitlines() if line.startswith("| `CRIMELINK_")}
    assert rows == {name for name, _, _ in variables(Settings())}


def test_retailer_channels_are_retailer_ids() -> None:
    """Each becomes a topic name and an ACL prefix: a name with a dot or a space could widen or break either."""
    assert KafkaSettings(retailer_channels=" quikmart,northway ,quikmart").retailer_channels == ["northway", "quikmart"]
    for bad in ("Quik Mart", "north.way", "*"):
        with pytest.raises(ValidationError, match="retailer ids are"):
            KafkaSettings(retailer_channels=bad)
