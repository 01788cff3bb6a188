"""docs/personal-data.csv classifies every column and topic: a new one without a row (and, if personal, a purpose, who
may see it and its retention) fails here."""

from __future__ import annotations

import csv
from pathlib import Path

from crimelink.settings import Settings
from crimelink.sinks.tables import ALL
from crimelink.streams.topics import TopicNames

PURPOSE_SETTING = {"incidents": "CRIMELINK_RETENTION_DAYS", "dead_letters": "CRIMELINK_DEAD_LETTER_RETENTION_DAYS",
                   "feedback": "CRIMELINK_FEEDBACK_RETENTION_DAYS", "alerts": "CRIMELINK_ALERT_RETENTION_DAYS",
                   "audit": "CRIMELINK_AUDIT_RETENTION_DAYS"}
REGISTRY = Path(__file__).resolve().parents[2] / "docs" / "personal-data.csv"


def _rows() -> list[dict[str, str]]:
    with REGISTRY.open(newline="") as file:
        return list(csv.DictReader(file))


def test_every_column_of_every_table_is_classified_once() -> None:
    listed = [(row["name"], row["field"]) for row in _rows() if row["kind"] == "table"]
    assert sorted(listed) == sorted((table.name, column.name) for table in ALL for column in table.columns)


def test_every_topic_crimelink_declares_is_classified() -> None:
    names = TopicNames(Settings())
    listed = {row["name"] for row in _rows() if row["kind"] == "topic"}
    declared = {attribute for attribute, value in vars(names).items()
                if not attribute.startswith("_") and (isinstance(value, str) or attribute in ("raw", "channels"))}
    assert declared | {"changelogs"} == listed


def test_personal_data_says_why_it_is_kept_who_sees_it_and_for_how_long() -> None:
    tables = {table.name: table for table in ALL}
    settings_names = {"CRIMELINK_RETENTION_DAYS", "CRIMELINK_DEAD_LETTER_RETENTION_DAYS",
                      "CRIMELINK_FEEDBACK_RETENTION_DAYS", "CRIMELINK_ALERT_RETENTION_DAYS",
                      "CRIMELINK_AUDIT_RETENTION_DAYS", "CRIMELINK_RAW_TOPIC_RETENTION_HOURS"}
    personal = [row for row in _rows() if row["personal"] == "yes"]
    assert len(personal) > 20
    for row in personal:
        assert row["holds"] and row["purpose"] and row["who_may_see"] and row["retention"], row
        if row["kind"] == "table":  # the setting that really sets the table's TTL
            assert row["retention"] == PURPOSE_SETTING[tables[row["name"]].retention], row
        assert row["retention"] in settings_names or row["kind"] == "topic", row
    assert {row["personal"] for row in _rows()} == {"yes", "no"}
