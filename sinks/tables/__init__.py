"""Every ClickHouse table, one module each: its columns with their meaning, engine and keys, the views built on it,
and the row builder for the topic the sink writes into it. Adding a table: a module here, its entry below, and a
migration in ``crimelink.sinks.migrations``."""

from __future__ import annotations

from crimelink.sinks.tables import (
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
from crimelink.sinks.tables.base import Column, Index, Row, Table

__all__ = ["Column", "Index", "Row", "Table", "ALL", "STORED", "HIDDEN_FROM_ANALYSTS"]

ALL: tuple[Table, ...] = (incidents.TABLE, dead_letters.TABLE, retailer_feedback.TABLE, links.TABLE, series.TABLE,
                          alerts.TABLE, incidents_daily.TABLE, schema_migrations.TABLE, audit_log.TABLE, sink_rejects.TABLE,
                          incident_identities.TABLE)
STORED: tuple[Table, ...] = tuple(table for table in ALL if table.row is not None and table.topic is not None)
"""The tables the sink writes from a topic (``incidents`` and ``incident_identities`` from the same one;
``sink_rejects`` is written by the sink itself)."""
HIDDEN_FROM_ANALYSTS: frozenset[str] = frozenset({audit_log.TABLE.name, incident_identities.TABLE.name})
"""Tables analysts' SQL may not read: only admins read the access log, through ``crimelink audit``; the clear
registrations and descriptions are read by the worker alone, for one incident at a time, each read logged."""
