"""``series``: linked incidents as one group, a new version on every change (FINAL: the latest)."""

from __future__ import annotations

from typing import Any

from crimelink.pseudonyms import Pseudonymiser
from crimelink.sinks.tables.base import INGESTED_AT, Column, Row, Table, as_time

__all__ = ["TABLE", "row"]


def row(series: Row, pseudonyms: Pseudonymiser) -> list[Any]:
    return [series["series_id"], series["version"], series["members"], len(series["members"]),
            as_time(series["first_seen"]), as_time(series["last_seen"]), series["forces"], series["regions"],
            series["tactics"], series["goods"], [pseudonyms.registration(vrm) for vrm in series["vehicles"]],
            series["total_value_pence"], series["referable"],
            series["pending"]]


TABLE = Table(
    name="series",
    columns=(
        Column("series_id", "String", "stable series id (kept by the oldest part on a merge)"),
        Column("version", "UInt64", "increases with every change; FINAL keeps the latest"),
        Column("members", "Array(String)", "incident keys in time order"),
        Column("incident_count", "UInt32", "members"),
        Column("first_seen", "DateTime64(3, 'UTC')", "first incident, UTC"),
        Column("last_seen", "DateTime64(3, 'UTC')", "latest incident, UTC"),
        Column("forces", "Array(LowCardinality(String))", "forces involved"),
        Column("regions", "Array(LowCardinality(String))", "regions involved"),
        Column("tactics", "Array(LowCardinality(String))", "tactics seen across the series"),
        Column("goods", "Array(LowCardinality(String))", "goods categories taken across the series"),
        Column("vehicles", "Array(String)", "keyed pseudonyms of the valid registrations seen"),
        Column("total_value_pence", "UInt64", "value taken, all incidents"),
        Column("referable", "Array(String)", "members with a valid crime number"),
        Column("pending", "Array(String)", "members awaiting a crime number (or invalid or expired)"),
        INGESTED_AT,
    ),
    engine="ReplacingMergeTree(version)",
    order_by="series_id",
    ttl="toDateTime(last_seen) + INTERVAL {retention_days} DAY",
    comment="Linked incidents; query with FINAL for the latest state of each series",
    row=row,
    topic="series",
)
