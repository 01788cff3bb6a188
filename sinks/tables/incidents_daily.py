"""``incidents_daily``: distinct incidents per day and force for the dashboard, kept up to date by
``incidents_daily_mv`` from every insert into ``incidents`` (revisions and replays do not double count)."""

from __future__ import annotations

from crimelink.sinks.tables.base import Column, Table

__all__ = ["TABLE", "VIEW", "BACKFILL"]

TABLE = Table(
    name="incidents_daily",
    columns=(
        Column("day", "Date", "day the offences happened (UTC)"),
        Column("force_id", "LowCardinality(String)", "police force"),
        Column("region_id", "LowCardinality(String)", "region"),
        Column("incidents", "AggregateFunction(uniqExact, String, String)",
               "uniqExact state of distinct incidents; read with uniqExactMerge(incidents)"),
    ),
    engine="AggregatingMergeTree",
    partition_by="toYYYYMM(day)",
    order_by="(day, region_id, force_id)",
    ttl="day + INTERVAL {retention_days} DAY",
    comment="Distinct incidents per day and force, kept up to date by incidents_daily_mv (revisions and replays do not "
            "double count)",
)

_SELECT = ("SELECT toDate(occurred_start) AS day, force_id, region_id, uniqExactState(retailer, incident_id) AS incidents "
           "FROM {db}.incidents GROUP BY day, force_id, region_id")

VIEW = f"CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.incidents_daily_mv TO {{db}}.incidents_daily AS {_SELECT}"

BACKFILL = f"INSERT INTO {{db}}.incidents_daily {_SELECT}"
"""What existed before the view; uniqExact states merge, so a re-run counts nothing twice."""
