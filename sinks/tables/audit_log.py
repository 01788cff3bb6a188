"""``audit_log``: the access log (Data Protection Act 2018 s.62), one row per consultation, disclosure, alteration,
erasure, login, logout and refused attempt. Each event is on the audit topic, acknowledged by the broker, before the
web server answers (``crimelink.streams.audit``); the sink writes it here with the other topics of record, so a busy
dashboard costs no insert of its own. Hidden from analysts' SQL; admins read it through ``crimelink audit``; nothing
in crimelink updates or deletes a row (the TTL is the retention)."""

from __future__ import annotations

from typing import Any

from crimelink.pseudonyms import Pseudonymiser
from crimelink.sinks.tables.base import Column, Row, Table, as_time

__all__ = ["TABLE", "row"]

_FIELDS = ("principal", "role", "via", "client", "category", "action", "object", "rows", "outcome", "justification",
           "recipient", "detail")


def row(event: Row, _: Pseudonymiser) -> list[Any]:
    """An event of the audit topic (``crimelink.access.audit.AuditEvent.record``)."""
    return [event["event_id"], as_time(event["at"]), *(event[name] for name in _FIELDS)]


TABLE = Table(
    name="audit_log",
    columns=(
        Column("event_id", "String", "unique per event (a replayed one is kept once)"),
        Column("at", "DateTime64(3, 'UTC')", "when it happened"),
        Column("principal", "String", "the authenticated user; empty when authentication failed"),
        Column("role", "LowCardinality(String)", "the user's role"),
        Column("via", "LowCardinality(String)", "how the user authenticated: token, password, session, kafka, process"),
        Column("client", "String", "the caller's address, or where the event came from"),
        Column("category", "LowCardinality(String)", "consultation, disclosure, alteration, erasure, collection, "
                                                     "combination or authentication"),
        Column("action", "LowCardinality(String)", "what was asked: query, stats, evidence, alerts, backlog, login..."),
        Column("object", "String", "the SQL text, the alert or incident id, the retailer"),
        Column("rows", "UInt64", "rows returned or changed"),
        Column("outcome", "LowCardinality(String)", "ok, refused or failed"),
        Column("justification", "String", "why the data was consulted or disclosed (X-Justification)"),
        Column("recipient", "String", "to whom it was disclosed"),
        Column("detail", "String", "why it was refused or failed"),
    ),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(at)",
    order_by="(at, event_id)",
    ttl="toDateTime(at) + INTERVAL {retention_days} DAY",
    retention="audit",
    comment="Access log (DPA 2018 s.62): who consulted, disclosed or changed what, when and why. Append-only.",
    row=row,
    topic="audit",
)
