"""ClickHouse through clickhouse-connect: embedded chDB (``chdb:///dir``) or a server (``http(s)://``).

Small public surface: :class:`ClickHouseStore` (connect, set up, insert, query) and
:class:`BatchSink` (add rows, flush as one insert). With chDB only one process may open a data
directory, so the worker owns it and everyone else queries through the worker's web server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlparse

from crimelink.errors import QueryError, SchemaError, SinkWriteError, StoreError
from crimelink.settings import Settings
from crimelink.sinks import migrations
from crimelink.sinks.readonly import READ_ONLY_SETTINGS
from crimelink.sinks.tables import Table

__all__ = ["ClickHouseStore", "BatchSink", "QueryResult"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class ClickHouseStore:
    """One connection to crimelink's database. Not thread-safe: call it from one thread at a time."""

    def __init__(self, dsn: str, database: str, *, password: str | None = None, retention_days: int = 730) -> None:
        self.dsn = dsn
        self.database = database
        self.retention_days = retention_days
        self._lock = threading.Lock()
        self._password = password
        self._client = _connect(dsn, password, None)
        self._reader: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ClickHouseStore:
        clickhouse = settings.clickhouse
        password = clickhouse.password.get_secret_value() if clickhouse.password else None
        if settings.is_embedded_store:
            (settings.home / "clickhouse").mkdir(parents=True, exist_ok=True)
        return cls(settings.effective_clickhouse_dsn, clickhouse.database,
                   password=password, retention_days=clickhouse.retention_days)

    @property
    def where(self) -> str:
        """The DSN without credentials, for error messages."""
        if self.dsn.startswith("chdb:"):
            return self.dsn
        parsed = urlparse(self.dsn)
        return parsed._replace(netloc=parsed.hostname or parsed.netloc.rpartition("@")[2]).geturl()

    def setup(self) -> int:
        """Create the database and apply pending migrations; returns the schema version now in force."""
        with self._lock:
            try:
                for statement in migrations.BOOTSTRAP:
                    self._client.command(migrations.render(statement, self.database, self.retention_days))
                # From here on unqualified table names in analysts' queries mean crimelink's tables.
                self._client.close()
                self._client = _connect(self.dsn, self._password, self.database)
                applied = self._client.query(
                    f"SELECT max(version) FROM `{self.database}`.schema_migrations"
                ).result_rows[0][0] or 0
                for migration in migrations.MIGRATIONS:
                    if migration.version <= applied:
                        continue
                    for statement in migration.statements:
                        self._client.command(migrations.render(statement, self.database, self.retention_days))
                    self._client.insert(
                        f"`{self.database}`.schema_migrations",
                        [[migration.version, migration.description]],
                        column_names=["version", "description"],
                    )
                    log.info("applied ClickHouse schema migration %s: %s", migration.version, migration.description)
                    applied = migration.version
            except Exception as error:
                raise SchemaError(f"setting up database {self.database!r} at {self.where} failed: {error}") from error
        return int(applied)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self._lock:
            context = None
            try:
                context = self._client.create_insert_context(f"`{self.database}`.{table}", column_names=list(columns))
                self._client.insert(context=context, data=rows)
            except Exception as error:
                raise SinkWriteError(f"{self.database}.{table} at {self.where}", len(rows), error) from error
            finally:
                # clickhouse-connect's insert context refers to itself (a bound method kept on it), so it and every
                # row it holds lived on until the cyclic garbage collector found them: 60,000 row lists in 30 s at
                # 2,000/s. Emptied, it and the rows go at once, and freezing (crimelink.streams.engine.garbage) keeps
                # none of them.
                if context is not None and hasattr(context, "__dict__"):
                    vars(context).clear()

    def query(self, sql: str, parameters: dict[str, Any] | None = None, *, settings: dict[str, Any] | None = None) -> QueryResult:
        """Run a query with bound parameters (``{name:Type}`` placeholders) in crimelink's database."""
        with self._lock:
            try:
                result = self._client.query(sql, parameters=parameters or {}, settings=settings or {})
            except Exception as error:
                raise QueryError(f"query failed at {self.where}: {error}") from error
        return _result(result)

    def read_only_query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        """An analyst's query on a separate read-only connection.

        chDB keeps query settings on the connection, so ``readonly`` must never touch the
        connection the sinks write through.
        """
        with self._lock:
            if self._reader is None:
                self._reader = _connect(self.dsn, self._password, self.database, settings=READ_ONLY_SETTINGS)
            try:
                result = self._reader.query(sql, parameters=parameters or {})
            except Exception as error:
                raise QueryError(f"query failed at {self.where}: {error}") from error
        return _result(result)

    def command(self, sql: str) -> None:
        with self._lock:
            try:
                self._client.command(sql)
            except Exception as error:
                raise StoreError(f"command failed at {self.where}: {error}") from error

    def close(self) -> None:
        with self._lock:
            self._client.close()
            if self._reader is not None:
                self._reader.close()


def _result(result: Any) -> QueryResult:
    return QueryResult(
        columns=list(result.column_names),
        types=[column.name for column in result.column_types],
        rows=[tuple(row) for row in result.result_rows],
    )


def _connect(dsn: str, password: str | None, database: str | None, settings: dict[str, Any] | None = None) -> Any:
    import clickhouse_connect

    try:
        if dsn.startswith("chdb:"):
            return clickhouse_connect.get_client(dsn=dsn, database=database, settings=settings or {})
        if not dsn.startswith(("http://", "https://")):
            raise StoreError(f"unsupported ClickHouse DSN {dsn!r}: use chdb:///path or http(s)://host:port")
        extra: dict[str, Any] = {"password": password} if password else {}
        if settings:
            extra["settings"] = settings
        if database:
            extra["database"] = database
        return clickhouse_connect.get_client(dsn=dsn, **extra)
    except ImportError as error:
        raise StoreError(f"{error}; run pip install 'clickhouse-connect[chdb]' to fix it") from error
    except StoreError:
        raise
    except Exception as error:
        raise StoreError(f"cannot connect to ClickHouse at {dsn.split('@')[-1]}: {error}") from error


class BatchSink(Generic[T]):
    """Collects items and writes them to one table in a single insert per batch.

    The caller takes a batch (:meth:`take`) before anything else can add to it, writes it (:meth:`write`, retried
    until it works) and only then commits the offsets it came from; what is added meanwhile belongs to the next batch.
    """

    def __init__(self, store: ClickHouseStore, table: str, columns: Sequence[str], to_row: Callable[[T], list[Any]]) -> None:
        self.store = store
        self.table = table
        self.columns = list(columns)
        self._to_row = to_row
        self._rows: list[list[Any]] = []
        self.written = 0

    @classmethod
    def for_table(cls, store: ClickHouseStore, table: Table) -> BatchSink[Any]:
        """The sink of a table the sink writes (one with a row builder)."""
        if table.row is None:
            raise ValueError(f"table {table.name} has no row builder: nothing writes it from a topic")
        return cls(store, table.name, table.insert_columns, table.row)

    def add(self, item: T) -> None:
        self._rows.append(self._to_row(item))

    def __len__(self) -> int:
        return len(self._rows)

    def take(self) -> list[list[Any]]:
        """The rows added so far, as one batch; later adds start the next."""
        rows, self._rows = self._rows, []
        return rows

    def write(self, rows: list[list[Any]]) -> int:
        """One insert; a failure raises (:class:`SinkWriteError`) and the caller keeps ``rows`` to try again."""
        if rows:
            self.store.insert(self.table, self.columns, rows)
            self.written += len(rows)
        return len(rows)

    def flush(self) -> int:
        """Take and write in one go, for a caller that adds nothing meanwhile; a failed batch is kept for the next."""
        rows = self.take()
        try:
            return self.write(rows)
        except SinkWriteError:
            self._rows[:0] = rows
            raise
