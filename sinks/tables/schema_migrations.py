"""``schema_migrations``: which migrations (``crimelink.sinks.migrations``) this database has had."""

from __future__ import annotations

from crimelink.sinks.tables.base import Column, Table

__all__ = ["TABLE"]

TABLE = Table(
    name="schema_migrations",
    columns=(
        Column("version", "UInt32", "migration number"),
        Column("description", "String", "what it changed"),
        Column("applied_at", "DateTime64(3, 'UTC')", "when it was applied here", default="now64(3)"),
    ),
    engine="ReplacingMergeTree",
    order_by="version",
)
