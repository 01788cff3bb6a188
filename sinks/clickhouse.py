"""ClickHouse through clickhouse-connect: embedded chDB (``chdb:///dir``) or a server (``http(s)://``).

Small public surface: :class:`ClickHouseStore` (connect, set up, insert, query), :class:`AnalystReader` (analysts'
queries, checked and limited, on a connection of their own) and :class:`BatchSink` (add rows, flush as one insert).
With chDB only one process may open a data directory, so the worker owns it and everyone else queries through the
worker's web server.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlparse

from crimelink.errors import QueryError, QueryLimitExceeded, ReadOnlyViolation, SchemaError, SinkWriteError, StoreError
from crimelink.pseudonyms import Pseudonymiser
from crimelink.settings import AccessSettings, ClickHouseSettings, QuerySettings, Settings
from crimelink.sinks import migrations
from crimelink.sinks.query_guard import PARSE_SQL, FunctionAllowlist, QueryGuard
from crimelink.sinks.tables import HIDDEN_FROM_ANALYSTS, Table

__all__ = ["ClickHouseStore", "AnalystReader", "BatchSink", "QueryResult"]

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_RETENTION_DAYS = ClickHouseSettings.model_construct().retention(
    AccessSettings.model_fields["audit_retention_days"].default)


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class ClickHouseStore:
    """One connection to crimelink's database. Not thread-safe: call it from one thread at a time."""

    def __init__(self, dsn: str, database: str, *, password: str | None = None,
                 retention: Mapping[str, int] | None = None, pseudonym_key: bytes | None = None) -> None:
        self.dsn = dsn
        self.database = database
        # The rows' keyed pseudonyms (crimelink.pseudonyms). Without a key (tests), a throwaway one: pseudonyms that
        # hide the values as well, but differ from one store object to the next.
        self.pseudonyms = Pseudonymiser(pseudonym_key or secrets.token_bytes(32))
        self.retention: dict[str, int] = {**DEFAULT_RETENTION_DAYS, **(retention or {})}
        self._lock = threading.Lock()
        self._password = password
        self._client = _connect(dsn, password, None)

    @classmethod
    def from_settings(cls, settings: Settings) -> ClickHouseStore:
        clickhouse = settings.clickhouse
        password = clickhouse.password.get_secret_value() if clickhouse.password else None
        if settings.is_embedded_store:
            (settings.home / "clickhouse").mkdir(parents=True, exist_ok=True)
        return cls(settings.effective_clickhouse_dsn, clickhouse.database, password=password,
                   retention=clickhouse.retention(settings.access.audit_retention_days),
                   pseudonym_key=_pseudonym_key(settings))

    def analyst_reader(self, limits: QuerySettings) -> AnalystReader:
        """A connection of its own for analysts' queries, with the guard built from this engine's catalogue (read
        here, since the reader's own limits would cut the catalogue short)."""
        catalogue = self.query("SELECT name, categories, is_aggregate, case_insensitive, alias_to FROM system.functions")
        databases = self.query("SELECT name FROM system.databases")
        guard = QueryGuard(self.database, [row[0] for row in databases.rows],
                           FunctionAllowlist.from_catalogue(catalogue.rows),  # type: ignore[arg-type]
                           hidden_tables=HIDDEN_FROM_ANALYSTS)
        return AnalystReader(self.dsn, self.database, password=self._password, limits=limits, guard=guard)

    @property
    def where(self) -> str:
        """The DSN without credentials, for error messages."""
        return _without_credentials(self.dsn)

    def setup(self) -> int:
        """Create the database and apply pending migrations; returns the schema version now in force."""
        with self._lock:
            try:
                for statement in migrations.BOOTSTRAP:
                    self._client.command(self._render(statement))
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
                        self._client.command(self._render(statement))
                    self._client.insert(
                        f"`{self.database}`.schema_migrations",
                        [[migration.version, migration.description]],
                        column_names=["version", "description"],
                    )
                    log.info("applied ClickHouse schema migration %s: %s", migration.version, migration.description)
                    applied = migration.version
                for statement in migrations.retention_ttls(self.database, self.retention):
                    self._client.command(statement, settings={"materialize_ttl_after_modify": 0})
            except Exception as error:
                raise SchemaError(f"setting up database {self.database!r} at {self.where} failed: {error}") from error
        return int(applied)

    def _render(self, statement: str) -> str:
        return migrations.render(statement, self.database, self.retention["incidents"])

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self._lock:
            context = None
            try:
                context = self._client.create_insert_context(f"`{self.database}`.{table}", column_names=list(columns))
                self._client.insert(context=context, data=rows)
            except Exception as error:
                raise SinkWriteError(f"{self.database}.{table} at {self.where}", len(rows), error,
                                     transient=_transient(error)) from error
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

    def command(self, sql: str, parameters: dict[str, Any] | None = None, *,
                settings: dict[str, Any] | None = None) -> None:
        with self._lock:
            try:
                self._client.command(sql, parameters=parameters or None, settings=settings or None)
            except Exception as error:
                raise StoreError(f"command failed at {self.where}: {error}") from error

    def close(self) -> None:
        with self._lock:
            self._client.close()


_CHECKED_CACHE = 256


class AnalystReader:
    """Analysts' queries on a connection of their own, never the one the sink writes through.

    The connection carries ``readonly=1`` and the limits of :class:`QuerySettings`; under ``readonly=1`` no query can
    change a setting, so none can raise them. Free SQL (:meth:`query`) is checked first by
    :class:`~crimelink.sinks.query_guard.QueryGuard` on ClickHouse's own parse of it; crimelink's own views (stats,
    evidence, backlog, the access log) use :meth:`trusted_query`. One thread at a time: the worker gives it a thread
    of its own, so the sink never waits for an analyst.
    """

    def __init__(self, dsn: str, database: str, *, password: str | None, limits: QuerySettings,
                 guard: QueryGuard) -> None:
        self.database = database
        self.limits = limits
        self.where = _without_credentials(dsn)
        self._client = _connect(dsn, password, database, settings={
            "max_execution_time": limits.max_seconds,
            "timeout_overflow_mode": "throw",
            "max_memory_usage": limits.max_memory_mib * 1024 * 1024,
            "max_result_rows": limits.max_result_rows,
            "max_result_bytes": limits.max_result_mib * 1024 * 1024,
            "result_overflow_mode": "throw",
            "max_rows_to_read": limits.max_rows_to_read,
            "read_overflow_mode": "throw",
            "max_query_size": limits.max_sql_kib * 2048 + 4096,  # the formatted statement may be longer than the text
            "readonly": 1,  # last: from here on the connection can change no setting
        })
        self._guard = guard
        self._checked: dict[str, tuple[str, bool]] = {}
        """Statements already parsed and accepted (the same text parses the same way): a dashboard or a script
        polling one query costs one parse, not one per poll."""

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        """An analyst's statement, refused (:class:`ReadOnlyViolation`) unless the guard accepts it."""
        statement = sql.strip().rstrip(";").strip()
        if len(statement.encode()) > self.limits.max_sql_kib * 1024:
            raise ReadOnlyViolation(f"the query is {len(statement.encode()) // 1024} KiB; the limit is "
                                    f"{self.limits.max_sql_kib} KiB (CRIMELINK_QUERY_MAX_SQL_KIB)")
        if not statement:
            raise ReadOnlyViolation("the query is empty")
        checked = self._checked.get(statement)
        if checked is None:
            checked = self._check(statement)
            if len(self._checked) >= _CHECKED_CACHE:
                self._checked.pop(next(iter(self._checked)))
            self._checked[statement] = checked
        formatted, explain = checked
        return self._run(formatted, parameters, stream=not explain)

    def _check(self, statement: str) -> tuple[str, bool]:
        """The formatted statement, and whether it is an EXPLAIN; or :class:`ReadOnlyViolation`."""
        try:
            formatted, ast = self._run(PARSE_SQL, {"sql": statement}, stream=False).rows[0]
        except QueryError as error:
            text = str(error)
            if "Multi-statements" in text:
                raise ReadOnlyViolation("only one statement per query: remove everything after the first ';'") from None
            if "does not support JSON serialization" in text:
                raise ReadOnlyViolation(
                    f"{statement.split()[0].upper()} is not allowed: analysts' queries are one SELECT (or WITH ... "
                    "SELECT, or EXPLAIN SELECT); for a table's columns: SELECT name, type, comment FROM system.columns "
                    "WHERE database = currentDatabase() AND table = 'incidents'") from None
            raise
        tree = json.loads(ast)
        self._guard.check(tree)
        return str(formatted), tree.get("type") == "ExplainQuery"

    def trusted_query(self, sql: str, parameters: dict[str, Any] | None = None) -> QueryResult:
        """crimelink's own SQL (never an analyst's text): the same connection and limits, no guard."""
        return self._run(sql, parameters)

    def close(self) -> None:
        self._client.close()

    def _run(self, sql: str, parameters: dict[str, Any] | None = None, *, stream: bool = True) -> QueryResult:
        """Streamed block by block, and stopped once past the row limit: ClickHouse checks ``max_result_rows`` between
        blocks, so one large block would otherwise come through whole. (chDB cannot stream an EXPLAIN.)"""
        limit = self.limits.max_result_rows
        try:
            if not stream:
                result = _result(self._client.query(sql, parameters=parameters or None))
                columns, types, rows = result.columns, result.types, result.rows
            else:
                rows = []
                with self._client.query_row_block_stream(sql, parameters=parameters or None) as blocks:
                    columns = list(blocks.source.column_names)
                    types = [column.name for column in blocks.source.column_types]
                    for block in blocks:
                        rows.extend(tuple(row) for row in block)
                        if len(rows) > limit:
                            break
        except Exception as error:
            raise _query_error(error, self.limits, self.where) from error
        if len(rows) > limit:
            raise _query_error(RuntimeError("Code: 396. result too large"), self.limits, self.where)
        return QueryResult(columns=columns, types=types, rows=rows)


def _query_error(error: Exception, limits: QuerySettings, where: str) -> QueryError:
    """ClickHouse's error as crimelink's: a limit names itself and its setting, a write attempt is a violation."""
    text = str(error)
    code_match = re.search(r"Code: (\d+)", text)
    code = int(code_match.group(1)) if code_match else None
    if code == 164:  # READONLY
        return ReadOnlyViolation("the query tried to change a setting or write: queries are read-only and their "
                                 "limits fixed", code=code)
    stopped = {
        159: ("ran past its time limit", f"{limits.max_seconds:g} s", "CRIMELINK_QUERY_MAX_SECONDS"),
        241: ("needed more memory than its limit", f"{limits.max_memory_mib} MiB", "CRIMELINK_QUERY_MAX_MEMORY_MIB"),
        158: ("would read more rows than its limit", f"{limits.max_rows_to_read:,} rows",
              "CRIMELINK_QUERY_MAX_ROWS_TO_READ"),
        396: ("would return more rows or bytes than its limit",
              f"{limits.max_result_rows:,} rows, {limits.max_result_mib} MiB",
              "CRIMELINK_QUERY_MAX_RESULT_ROWS / CRIMELINK_QUERY_MAX_RESULT_MIB"),
    }.get(code or 0)
    if stopped is not None:
        what, limit, setting = stopped
        return QueryLimitExceeded(f"the query {what} ({limit}; {setting}) and was stopped", code=code)
    first_line = text.split("\n", 1)[0]
    message = re.sub(r"^.*?DB::Exception: ", "", first_line).split(": In scope SELECT formatQuerySingleLine")[0]
    return QueryError(f"query failed at {where}: {message}", code=code)


_TRANSIENT_CODES = frozenset({
    3, 74, 75, 76, 159, 173, 202, 209, 210, 236, 241, 242, 243, 252, 319, 394, 425, 439, 516, 999, 1000,  # I/O, memory,
    # space, timeouts, too many parts or queries, read-only, the network, Keeper, authentication
    10, 16, 47, 60, 81,  # a column, table or database the store lacks: a migration, not the rows, is missing
})
"""ClickHouse error codes after which the same rows may go in later."""


def _transient(error: BaseException) -> bool:
    """Whether an insert that raised ``error`` may work if tried again with the same rows.

    Transient: the store unreachable (a socket or HTTP error), or an error code of :data:`_TRANSIENT_CODES`. Not: any
    other code (ClickHouse refused a value), or an error building the native block with no code at all
    (clickhouse-connect's ``DataError``, ``struct.error``, ``OverflowError``, ``TypeError``: a value the column's
    type cannot hold, such as a revision of 2^32 in a UInt32)."""
    from clickhouse_connect.driver.exceptions import OperationalError

    if isinstance(error, OSError | OperationalError):
        return True
    code = re.search(r"Code: (\d+)", str(error))
    return code is not None and int(code.group(1)) in _TRANSIENT_CODES


def _without_credentials(dsn: str) -> str:
    if dsn.startswith("chdb:"):
        return dsn
    parsed = urlparse(dsn)
    return parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()


def _result(result: Any) -> QueryResult:
    return QueryResult(
        columns=list(result.column_names),
        types=[column.name for column in result.column_types],
        rows=[tuple(row) for row in result.result_rows],
    )


def _pseudonym_key(settings: Settings) -> bytes:
    """``CRIMELINK_PSEUDONYM_KEY``, else the key in ``<home>/pseudonym.key``, made (32 random bytes, 0600) on first use."""
    configured = settings.clickhouse.pseudonym_key
    if configured is not None:
        return configured.get_secret_value().encode()
    path = settings.pseudonym_key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


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
        """The sink of a table the sink writes (one with a row builder), with the store's pseudonyms."""
        builder = table.row
        if builder is None:
            raise ValueError(f"table {table.name} has no row builder: nothing writes it from a topic")
        pseudonyms = store.pseudonyms
        return cls(store, table.name, table.insert_columns, lambda record: builder(record, pseudonyms))

    def add(self, item: T) -> None:
        self._rows.append(self._to_row(item))

    def row_of(self, item: T) -> list[Any]:
        """``item``'s row, not yet added (:meth:`append` adds it): a message that makes rows of several tables adds
        them all or none."""
        return self._to_row(item)

    def append(self, row: list[Any]) -> None:
        self._rows.append(row)

    def add_all(self, items: Sequence[T]) -> None:
        self._rows.extend(map(self._to_row, items))

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
