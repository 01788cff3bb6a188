"""What a ClickHouse table module declares: its columns (name, type, meaning), engine and keys, and how a record of its
topic becomes a row. DDL, column documentation and the sink's column list are all derived from that one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from crimelink.pseudonyms import Pseudonymiser

__all__ = ["Column", "Index", "Table", "Row", "RowBuilder", "INGESTED_AT", "as_json", "as_time", "quoted"]

Row = dict[str, Any]
"""A record as its topic carries it (the JSON of the pydantic model in ``crimelink.schemas``), decoded by orjson."""
RowBuilder = Callable[[Row, Pseudonymiser], list[Any]]
"""A record of the table's topic -> its row; tables of the analysts replace registrations and descriptions with
keyed pseudonyms (``crimelink.pseudonyms``)."""
"""A record -> the row's values, in the order of :attr:`Table.insert_columns`."""


def quoted(text: str) -> str:
    """A ClickHouse string literal, braces doubled for the ``str.format`` every statement goes through."""
    literal = "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    return literal.replace("{", "{{").replace("}", "}}")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    default: str | None = None
    """A DEFAULT expression: ClickHouse fills the column, so no row builder does."""

    def ddl(self) -> str:
        default = f" DEFAULT {self.default}" if self.default else ""
        return f"{self.name} {self.type}{default} COMMENT {quoted(self.doc)}"


@dataclass(frozen=True)
class Index:
    """A data-skipping index."""

    name: str
    expression: str
    type: str
    granularity: int = 4

    def ddl(self) -> str:
        return f"INDEX {self.name} {self.expression} TYPE {self.type} GRANULARITY {self.granularity}"


RetentionPurpose = Literal["incidents", "dead_letters", "feedback", "alerts", "audit"]
"""The retention classes: each has its own setting, in days."""


@dataclass(frozen=True)
class Table:
    """One table. Statements carry ``{db}`` and ``{retention_days}`` placeholders (``crimelink.sinks.migrations.render``);
    the days are those of the table's :attr:`retention` purpose."""

    name: str
    columns: tuple[Column, ...]
    engine: str
    order_by: str
    partition_by: str | None = None
    ttl: str | None = None
    retention: RetentionPurpose = "incidents"
    """Why rows are kept, which says how long (``ClickHouseSettings``/``AccessSettings``: incidents and their links
    730 days, dead letters 30, retailer feedback 365, alerts with their evidence six years, the access log six)."""
    comment: str | None = None
    indexes: tuple[Index, ...] = ()
    row: RowBuilder | None = None
    """Builds a row from a record of :attr:`topic`; None for a table the sink does not write."""
    topic: str | None = None
    """The ``crimelink.streams.topics.TopicNames`` attribute whose records the sink writes here."""
    _by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {column.name: column for column in self.columns})
        if len(self._by_name) != len(self.columns):
            raise ValueError(f"table {self.name} names a column twice")

    @property
    def insert_columns(self) -> list[str]:
        """The columns a row builder fills, in order (those with a DEFAULT are ClickHouse's)."""
        return [column.name for column in self.columns if column.default is None]

    def column(self, name: str) -> Column:
        return self._by_name[name]

    def create(self) -> str:
        lines = [column.ddl() for column in self.columns] + [index.ddl() for index in self.indexes]
        body = ",\n    ".join(lines)
        clauses = [f"ENGINE = {self.engine}"]
        if self.partition_by:
            clauses.append(f"PARTITION BY {self.partition_by}")
        clauses.append(f"ORDER BY {self.order_by}")
        if self.ttl:
            clauses.append(f"TTL {self.ttl}")
        if self.comment:
            clauses.append(f"COMMENT {quoted(self.comment)}")
        return f"CREATE TABLE IF NOT EXISTS {{db}}.{self.name}\n(\n    {body}\n)\n" + "\n".join(clauses)

    def add_column(self, name: str, *, after: str) -> str:
        """The migration step that adds a column an earlier version of this table lacked."""
        return f"ALTER TABLE {{db}}.{self.name} ADD COLUMN IF NOT EXISTS {self.column(name).ddl()} AFTER {after}"

    def add_index(self, name: str) -> str:
        index = next(index for index in self.indexes if index.name == name)
        return f"ALTER TABLE {{db}}.{self.name} ADD {index.ddl().replace('INDEX ', 'INDEX IF NOT EXISTS ', 1)}"

    def comment_columns(self) -> list[str]:
        """One statement per column setting its documentation (for a table made before its columns had any)."""
        return [f"ALTER TABLE {{db}}.{self.name} COMMENT COLUMN IF EXISTS {column.name} {quoted(column.doc)}"
                for column in self.columns]


INGESTED_AT = Column("ingested_at", "DateTime64(3, 'UTC')", "when ClickHouse received the row", default="now64(3)")
"""The last column of every table the sink writes."""


def as_json(value: Any) -> str:
    """Compact JSON for a String column (orjson: the sink turns every stored record into several of these)."""
    return orjson.dumps(value).decode()


def as_time(value: str | None) -> datetime | None:
    """A record's ISO time as the UTC datetime a DateTime64 column takes."""
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)
