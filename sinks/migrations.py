"""ClickHouse schema changes as numbered migrations; :meth:`ClickHouseStore.setup` brings any database up to the latest.

Each migration runs once per database and is recorded in ``schema_migrations``. The statements come from the table
modules (``crimelink.sinks.tables``), which hold each table as it is now: a migration that creates a table creates
it whole, so on a new database the later steps that added columns or indexes to older ones find them there (every
statement is ``IF NOT EXISTS`` / ``IF EXISTS``, so a migration interrupted half-way can simply run again). A new
table or column is one change to its table module plus one new migration at the end; an applied migration is never
edited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crimelink.sinks.tables import (
    ALL,
    alerts,
    audit_log,
    dead_letters,
    incident_identities,
    incidents,
    incidents_daily,
    links,
    retailer_feedback,
    schema_migrations,
    series,
    sink_rejects,
)

__all__ = ["Migration", "MIGRATIONS", "LATEST_VERSION", "BOOTSTRAP", "render", "retention_ttls"]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_incidents = incidents.TABLE
_DOCUMENTED_AT_6 = (incidents.TABLE, dead_letters.TABLE, retailer_feedback.TABLE, links.TABLE, series.TABLE,
                    alerts.TABLE, incidents_daily.TABLE, schema_migrations.TABLE)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "incidents, incidents_latest, dead_letters",
              (_incidents.create(), incidents.LATEST_VIEW, dead_letters.TABLE.create())),
    Migration(2, "incidents.unmapped_codes", (_incidents.add_column("unmapped_codes", after="narrative"),)),
    Migration(3, "retailer_feedback, retailer_backlog; gate columns on incidents", (
        retailer_feedback.TABLE.create(), retailer_feedback.BACKLOG_VIEW,
        _incidents.add_column("pending_deadline", after="eligibility_reason"),
        _incidents.add_column("status_changed_at", after="pending_deadline"),
    )),
    Migration(4, "links, series, alerts", (links.TABLE.create(), series.TABLE.create(), alerts.TABLE.create())),
    Migration(5, "incidents_daily aggregate for the dashboard",
              (incidents_daily.TABLE.create(), incidents_daily.VIEW, incidents_daily.BACKFILL)),
    Migration(6, "column documentation, skip indexes for common filters, incidents_latest with every column", (
        *(statement for table in _DOCUMENTED_AT_6 for statement in table.comment_columns()),
        *(_incidents.add_index(index.name) for index in _incidents.indexes),
        incidents.LATEST_VIEW.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW"),
    )),
    Migration(7, "audit_log: the access log (DPA 2018 s.62)", (audit_log.TABLE.create(),)),
    Migration(8, "sink_rejects: rows a table refused, set aside", (sink_rejects.TABLE.create(),)),
    Migration(9, "incidents: where each crime number came from; alerts: the revised status", (
        _incidents.add_column("crime_ref_source", after="crime_ref_reason"),
        _incidents.add_column("crime_ref_via", after="crime_ref_source"),
        incidents.LATEST_VIEW.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW"),
        *alerts.TABLE.comment_columns(),
    )),
    Migration(10, "keyed pseudonyms in the analysts' tables; clear values in incident_identities (restricted)", (
        incident_identities.TABLE.create(),
        *(statement for table in (incidents.TABLE, links.TABLE, series.TABLE) for statement in table.comment_columns()),
    )),
)
LATEST_VERSION = MIGRATIONS[-1].version
BOOTSTRAP = ("CREATE DATABASE IF NOT EXISTS {db}", schema_migrations.TABLE.create())


def render(statement: str, database: str, retention_days: int) -> str:
    return statement.format(db=f"`{database}`", retention_days=int(retention_days))


def retention_ttls(database: str, days_by_purpose: Mapping[str, int]) -> list[str]:
    """Brings every table's TTL in line with its purpose's setting, which may have changed since the table was made
    (a table is created with the incidents' days; this runs right after, at every start)."""
    return [f"ALTER TABLE `{database}`.{table.name} MODIFY TTL "
            f"{render(table.ttl, database, days_by_purpose[table.retention])}"
            for table in ALL if table.ttl]
