"""The analysts' query path on the real engine (chDB): what the guard refuses, what it lets through, and the limits no
query can raise. Each refusal below is an attack that worked on e173ccd."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from crimelink.errors import QueryLimitExceeded, ReadOnlyViolation
from crimelink.settings import QuerySettings
from crimelink.sinks.clickhouse import AnalystReader, ClickHouseStore
from crimelink.sinks.queries import STATS_QUERIES
from crimelink.sinks.query_guard import FunctionAllowlist, QueryGuard
from crimelink.sinks.tables import incidents
from tests.conftest import checked_incident


@pytest.fixture(scope="module")
def store(chdb_dir: Path) -> Iterator[ClickHouseStore]:
    """One database for the module (each test only reads), holding one incident."""
    opened = ClickHouseStore(f"chdb://{chdb_dir}", f"test_guard_{uuid.uuid4().hex[:8]}")
    opened.setup()
    opened.insert("incidents", incidents.TABLE.insert_columns, [incidents.row(checked_incident(), opened.pseudonyms)])
    yield opened
    opened.command(f"DROP DATABASE IF EXISTS `{opened.database}`")
    opened.close()


@pytest.fixture(scope="module")
def reader(store: ClickHouseStore) -> Iterator[AnalystReader]:
    opened = store.analyst_reader(QuerySettings(max_seconds=2, max_result_rows=1000, max_memory_mib=256))
    yield opened
    opened.close()


@pytest.mark.parametrize(("sql", "refusal"), [
    ("SELECT 'x' INTO OUTFILE '{path}'", "INTO OUTFILE is not allowed"),
    ("SELECT 'x' INTO OUTFILE '{path}' TRUNCATE", "INTO OUTFILE is not allowed"),
    ("EXPLAIN SELECT 1 INTO OUTFILE '{path}'", "INTO OUTFILE is not allowed"),
    ("SELECT file('/etc/passwd')", "function file() is not allowed"),
    ("SELECT `file`('/etc/passwd')", "function file() is not allowed"),
    ("SELECT * APPLY(file) FROM (SELECT '/etc/passwd' AS p)", "function file() is not allowed"),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "table function file() is not allowed"),
    ("SELECT * FROM url('http://127.0.0.1:1/', CSV, 'a String')", "table function url() is not allowed"),
    ("SELECT count() FROM numbers(1e11)", "table function numbers() is not allowed"),
    ("SELECT count() FROM generateRandom('a String')", "table function generateRandom() is not allowed"),
    ("SELECT * FROM remote('127.0.0.1', system.one)", "table function remote() is not allowed"),
    ("SELECT 1 SETTINGS max_execution_time = 1000", "SETTINGS is not allowed"),
    ("SELECT 1 FORMAT CSV", "FORMAT is not allowed"),
    ("SELECT 1; SELECT file('/etc/passwd')", "one statement per query"),
    ("INSERT INTO schema_migrations (version) VALUES (99)", "INSERT is not allowed"),
    ("DROP TABLE incidents", "DROP is not allowed"),
    ("SYSTEM SHUTDOWN", "is not allowed"),
    ("SELECT * FROM system.users", "system.users is outside crimelink's database"),
    ("SELECT * FROM audit_log", "audit_log is not open"),
    ("SELECT 1 WHERE 1 IN audit_log", "audit_log is not open"),
    ("SELECT sleep(3)", "function sleep() is not allowed"),
    ("SELECT getSetting('max_execution_time')", "function getSetting() is not allowed"),
    ("SELECT dictGet('d', 'a', 1)", "function dictGet() is not allowed"),
    ("SELECT `we\nFunction count`(1)", "is not allowed"),
])
def test_the_guard_refuses_what_reaches_outside_the_database(reader: AnalystReader, tmp_path: Path, sql: str,
                                                             refusal: str) -> None:
    target = tmp_path / "written.pth"
    with pytest.raises(ReadOnlyViolation, match=re.escape(refusal)):
        reader.query(sql.replace("{path}", str(target)))
    assert not target.exists()


def test_a_second_statement_never_runs_while_the_first_is_checked(reader: AnalystReader, tmp_path: Path) -> None:
    """chDB runs every statement of a text; the guard hands ClickHouse the text only as a parameter."""
    target = tmp_path / "second.txt"
    with pytest.raises(ReadOnlyViolation):
        reader.query(f"SELECT 1; SELECT 'x' INTO OUTFILE '{target}'")
    assert not target.exists()


@pytest.mark.parametrize("sql", [
    *STATS_QUERIES.values(),
    "WITH q AS (SELECT force_id, count() AS n FROM incidents_latest GROUP BY force_id) SELECT * FROM q ORDER BY n",
    "SELECT a.incident_id FROM incidents AS a JOIN incidents AS b ON a.incident_id = b.incident_id",
    "SELECT arrayMap(x -> x * 2, [1, 2]), toStartOfDay(now()) - INTERVAL 1 DAY, CAST(1 AS String), 'a' ILIKE 'b'",
    "SELECT quantile(0.5)(total_value_pence), countIf(eligibility = 'referable'), uniqExact(force_id) FROM incidents",
    "SELECT retailer, sum(total_value_pence) OVER (PARTITION BY retailer) FROM incidents",
    "SELECT name, type, comment FROM system.columns WHERE database = currentDatabase() AND table = 'incidents'",
    "EXPLAIN SELECT count() FROM incidents",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT {retailer:String} AS asked",
])
def test_the_guard_lets_analysts_read(reader: AnalystReader, sql: str) -> None:
    reader.query(sql, {"retailer": "quikmart"} if "{retailer" in sql else None)


def test_limits_stop_a_long_query_and_cannot_be_raised(reader: AnalystReader) -> None:
    started = time.monotonic()
    with pytest.raises(QueryLimitExceeded, match="time limit"):
        reader.query("SELECT count() FROM (SELECT arrayJoin(range(100000)) AS a) AS x "
                     "CROSS JOIN (SELECT arrayJoin(range(100000)) AS b) AS y WHERE cityHash64(a, b) % 7 = 1")
    assert time.monotonic() - started < 15
    with pytest.raises(QueryLimitExceeded, match="rows or bytes"):
        reader.query("SELECT arrayJoin(range(5000))")  # one block: ClickHouse would let it through
    with pytest.raises(QueryLimitExceeded, match="memory"):
        reader.query("SELECT length(groupArray(repeat('x', 1000))) FROM (SELECT arrayJoin(range(1000000)) AS n)")
    with pytest.raises(ReadOnlyViolation):  # even crimelink's own SQL cannot lift them
        reader.trusted_query("SELECT 1 SETTINGS max_execution_time = 1000")


def test_the_function_allowlist_reads_aggregate_combinators() -> None:
    allowed = FunctionAllowlist.from_catalogue([("count", "Aggregate Functions", 1, 1, ""), ("uniqExact",
                                                "Aggregate Functions", 1, 0, ""), ("file", "Other", 0, 0, ""),
                                                ("lower", "String", 0, 1, ""), ("lcase", "", 0, 1, "lower")])
    assert allowed.allows("countIf") and allowed.allows("uniqExactMerge") and allowed.allows("COUNT")
    assert allowed.allows("lcase") and allowed.allows("LOWER")
    assert not allowed.allows("file") and not allowed.allows("fileIf") and not allowed.allows("If")


def test_the_guard_walks_a_long_query_in_linear_time() -> None:
    """Ten times the query, about ten times the work: no quadratic step (the old keyword guard took 23 s on 60 KB)."""
    guard = QueryGuard("crimelink", ["system"], FunctionAllowlist.from_catalogue([("plus", "Arithmetic", 0, 0, "")]))

    def ast(terms: int) -> dict[str, object]:
        expression: dict[str, object] = {"type": "Literal", "value": {"field_type": "UInt64", "value": 1}}
        for _ in range(terms):
            expression = {"type": "Function", "name": "plus", "arguments": {"type": "ExpressionList", "children": [
                expression, {"type": "Identifier", "name": "incident_id"}]}}
        return {"type": "SelectWithUnionQuery", "list_of_selects": {"type": "ExpressionList", "children": [
            {"type": "SelectQuery", "select": {"type": "ExpressionList", "children": [expression]}}]}}

    def timed(terms: int) -> float:
        tree = ast(terms)
        started = time.perf_counter()
        guard.check(tree)
        return time.perf_counter() - started

    small, large = min(timed(2_000) for _ in range(3)), min(timed(20_000) for _ in range(3))
    assert large < small * 40, (small, large)
