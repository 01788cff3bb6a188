"""``sink_rejects``: messages of a topic of record whose row the store refused, with the error and where they came
from, so one bad row never stops a table's sink (``crimelink.streams.engine.topic_sink``) and is never silently lost."""

from __future__ import annotations

from typing import Any

from crimelink.pseudonyms import Pseudonymiser
from crimelink.schemas.outcomes import DeadLetter
from crimelink.sinks.tables.base import INGESTED_AT, Column, Row, Table, as_time

__all__ = ["TABLE", "row", "reject"]


def reject(table: str, topic: str, partition: int, offset: int, value: bytes, error: str, at: str) -> Row:
    """The record of one refused message (``at``: ISO time), as :func:`row` takes it."""
    payload, encoding = DeadLetter.encode_payload(value)  # kept as dead letters keep theirs
    return {"table": table, "topic": topic, "partition": partition, "offset": offset, "error": error[:2000],
            "payload": payload, "payload_encoding": encoding, "at": at}


def row(entry: Row, _: Pseudonymiser) -> list[Any]:
    return [entry["table"], entry["topic"], entry["partition"], entry["offset"], entry["error"], entry["payload"],
            entry["payload_encoding"], as_time(entry["at"])]


TABLE = Table(
    name="sink_rejects",
    columns=(
        Column("table", "LowCardinality(String)", "the table that refused the row"),
        Column("topic", "LowCardinality(String)", "topic of the message the row was built from"),
        Column("partition", "UInt32", "its partition"),
        Column("offset", "UInt64", "its offset: replay it from there once the cause is fixed"),
        Column("error", "String", "why the row could not be built or stored"),
        Column("payload", "String", "the message (UTF-8, or base64 when it was not UTF-8)"),
        Column("payload_encoding", "LowCardinality(String)", "utf-8 or base64"),
        Column("rejected_at", "DateTime64(3, 'UTC')", "when the sink set it aside"),
        INGESTED_AT,
    ),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(rejected_at)",
    order_by="(topic, partition, offset, table)",
    ttl="toDateTime(rejected_at) + INTERVAL {retention_days} DAY",
    retention="dead_letters",
    comment="Messages whose row a table refused, set aside with the error so the rest of the batch is stored",
    row=row,
)
