"""``dead_letters``: raw records the normaliser refused, with machine-readable reasons and the original payload."""

from __future__ import annotations

from typing import Any

from crimelink.pseudonyms import Pseudonymiser
from crimelink.sinks.tables.base import INGESTED_AT, Column, Row, Table, as_time

__all__ = ["TABLE", "row"]


def row(letter: Row, _: Pseudonymiser) -> list[Any]:
    reasons = letter["reasons"]
    return [
        letter["feed_format"], letter["retailer"] or "", letter["incident_id"] or "", letter["topic"], letter["partition"],
        letter["offset"], as_time(letter["received_at"]), [r["field"] for r in reasons], [r["problem"] for r in reasons],
        [r["message"] for r in reasons], [r["value"] for r in reasons], letter["summary"], letter["payload"],
        letter["payload_encoding"],
    ]


TABLE = Table(
    name="dead_letters",
    columns=(
        Column("feed_format", "LowCardinality(String)", "feed format the record arrived in"),
        Column("retailer", "LowCardinality(String)", "retailer, when readable from the record"),
        Column("incident_id", "String", "incident id, when readable"),
        Column("topic", "LowCardinality(String)", "raw topic of the record"),
        Column("partition", "UInt32", "its partition"),
        Column("offset", "UInt64", "its offset"),
        Column("received_at", "DateTime64(3, 'UTC')", "when crimelink read it"),
        Column("reason_fields", "Array(String)", "dotted path of each offending field ($: the whole record)"),
        Column("reason_problems", "Array(LowCardinality(String))", "machine-readable problem code per reason"),
        Column("reason_messages", "Array(String)", "what is wrong and how to fix it, per reason"),
        Column("reason_values", "Array(Nullable(String))", "the offending value per reason (truncated)"),
        Column("summary", "String", "field: problem; ... in one line"),
        Column("payload", "String", "the original record (UTF-8, or base64 when it was not UTF-8)"),
        Column("payload_encoding", "LowCardinality(String)", "utf-8 or base64"),
        INGESTED_AT,
    ),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(received_at)",
    order_by="(topic, partition, offset)",
    ttl="toDateTime(received_at) + INTERVAL {retention_days} DAY",
    retention="dead_letters",  # the original payload is kept here, and only for this short time
    comment="Raw records refused by the normaliser, with machine-readable reasons and the original payload",
    row=row,
    topic="dead_letters",
)
