"""``retailer_feedback``: every status change and rejection per retailer incident, and the ``retailer_backlog`` view
of what each retailer still has to act on."""

from __future__ import annotations

from typing import Any

from crimelink.pseudonyms import Pseudonymiser
from crimelink.sinks.tables.base import INGESTED_AT, Column, Row, Table, as_time

__all__ = ["TABLE", "BACKLOG_VIEW", "row"]


def row(entry: Row, _: Pseudonymiser) -> list[Any]:
    return [entry["retailer"], entry["incident_id"], entry["revision"], entry["status"], entry["reason"], entry["action"],
            as_time(entry["deadline"]), as_time(entry["at"])]


TABLE = Table(
    name="retailer_feedback",
    columns=(
        Column("retailer", "LowCardinality(String)", "retailer the feedback is for"),
        Column("incident_id", "String", "the retailer's incident id"),
        Column("revision", "UInt32", "revision the status applies to"),
        Column("status", "LowCardinality(String)", "rejected, pending, invalid, referable, expired or update-ignored"),
        Column("reason", "String", "what crimelink found"),
        Column("action", "String", "what the retailer should do; empty when nothing"),
        Column("deadline", "Nullable(DateTime64(3, 'UTC'))", "when a pending incident expires"),
        Column("at", "DateTime64(3, 'UTC')", "when the status was set"),
        INGESTED_AT,
    ),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(at)",
    order_by="(retailer, incident_id, at, status)",
    ttl="toDateTime(at) + INTERVAL {retention_days} DAY",
    retention="feedback",
    comment="Every status change and rejection per retailer incident: the crime-number history and retailer feedback",
    row=row,
    topic="feedback",
)

BACKLOG_VIEW = """
CREATE VIEW IF NOT EXISTS {db}.retailer_backlog AS
SELECT retailer, incident_id,
       argMaxIf(revision, at, status != 'update-ignored') AS revision,
       argMaxIf(status, at, status != 'update-ignored') AS current_status,
       argMaxIf(reason, at, status != 'update-ignored') AS reason,
       argMaxIf(action, at, status != 'update-ignored') AS action,
       argMaxIf(deadline, at, status != 'update-ignored') AS deadline,
       max(at) AS updated_at
FROM {db}.retailer_feedback FINAL
GROUP BY retailer, incident_id
HAVING current_status IN ('rejected', 'pending', 'invalid', 'expired')
"""
