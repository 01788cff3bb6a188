"""``alerts``: one row per multi-region alert (FINAL: its latest level), with its evidence package."""

from __future__ import annotations

from typing import Any

from crimelink.pseudonyms import Pseudonymiser
from crimelink.sinks.tables.base import INGESTED_AT, Column, Row, Table, as_json, as_time

__all__ = ["TABLE", "row"]


def row(alert: Row, _: Pseudonymiser) -> list[Any]:
    return [alert["alert_id"], alert["series_id"], alert["level"], alert["status"], alert["forces"], alert["regions"],
            alert["lead_force"], alert["lead_reason"], alert["incident_count"], alert["referable_count"],
            alert["total_value_pence"], as_time(alert["at"]), as_json(alert["evidence"]), alert["evidence_markdown"]]


TABLE = Table(
    name="alerts",
    columns=(
        Column("alert_id", "String", "alert id (one per series)"),
        Column("series_id", "String", "the series it is about"),
        Column("level", "UInt16", "1 when raised, +1 per escalation"),
        Column("status", "LowCardinality(String)", "raised, escalated, or revised (an incident was erased)"),
        Column("forces", "Array(LowCardinality(String))", "forces within the window when raised or escalated"),
        Column("regions", "Array(LowCardinality(String))", "regions within the window"),
        Column("lead_force", "LowCardinality(String)", "suggested lead force"),
        Column("lead_reason", "String", "why that force"),
        Column("incident_count", "UInt32", "incidents in the series"),
        Column("referable_count", "UInt32", "of which referable"),
        Column("total_value_pence", "UInt64", "value taken, pence"),
        Column("at", "DateTime64(3, 'UTC')", "event time of the incident that raised or escalated it"),
        Column("evidence_json", "String", "the evidence package (JSON)"),
        Column("evidence_markdown", "String", "the evidence package, readable"),
        INGESTED_AT,
    ),
    engine="ReplacingMergeTree(level)",
    order_by="alert_id",
    ttl="toDateTime(at) + INTERVAL {retention_days} DAY",
    retention="alerts",  # with its evidence package: what was disclosed to a force, kept as long as the access log
    comment="One row per alert (FINAL: its latest level), with the evidence package",
    row=row,
    topic="alerts",
)
