"""What an analyst's free SQL may do, decided on ClickHouse's own parse of it, so the check reads the statement
exactly as the engine will run it: no second parser to disagree with.

The text reaches ClickHouse only as a bound parameter, ``formatQuerySingleLine({sql:String})``, never as code, so
nothing in it runs before it is checked (chDB runs every statement of a text with several). ClickHouse parses it and
formats exactly one statement, or refuses; ``parseQueryToJSON`` of that statement is what :class:`QueryGuard` walks,
and the formatted statement is what runs.

Accepted: one ``SELECT`` (``WITH``, ``UNION``, subqueries, joins, window functions...) or ``EXPLAIN`` of one, over
crimelink's own tables and views (not the access log) and a few metadata tables of ``system``, calling only functions
of the catalogue categories below. Refused: ``INTO OUTFILE``, ``SETTINGS`` and ``FORMAT`` clauses, every table
function (``file``, ``url``, ``numbers``, ``remote``...), every other database, dictionaries, and every function
outside the allowlist (``file()``, ``sleep``, ``getSetting``...). The walk visits each AST node once: linear in the
query's length.

ClickHouse enforces the rest on the analysts' own connection: ``readonly=1`` and limits no query can raise
(``crimelink.sinks.clickhouse.AnalystReader``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crimelink.errors import ReadOnlyViolation

__all__ = ["QueryGuard", "FunctionAllowlist", "SAFE_CATEGORIES", "SYSTEM_TABLES", "PARSE_SQL"]

PARSE_SQL = "SELECT formatQuerySingleLine({sql:String}) AS statement, parseQueryToJSON(statement) AS ast"
"""The one query that reads an analyst's text: as a parameter, on the analysts' read-only connection."""

SAFE_CATEGORIES = frozenset({
    "Aggregate Functions", "Arithmetic", "Arrays", "Bit", "Comparison", "Conditional", "Dates and Times", "Distance",
    "Encoding", "Financial", "Geo", "Geo Polygon", "Hash", "IP Address", "JSON", "Logical", "Map", "Mathematical",
    "Null", "Rounding", "String", "String Replacement", "String Search", "String Splitting", "Tuple", "Type Conversion",
    "URL", "UUID",
})
"""Categories of ``system.functions`` that compute on their arguments only. Left out, among others: Other (``file``,
``sleep``, ``getSetting``, ``hostName``...), Dictionary, Embedded Dictionary, Internal, Introspection, AI, Machine
Learning, Encryption, Random Number."""
EXTRA_FUNCTIONS = frozenset({
    "lambda", "_CAST", "caseWithExpression", "exists", "formatReadableSize", "formatReadableQuantity",
    "formatReadableTimeDelta", "bar", "toTypeName", "ignore", "transform", "materialize", "identity",
    "globalIn", "globalNotIn", "tuple", "array", "currentDatabase",
})
"""Functions outside those categories (or outside the catalogue: ``lambda``) that compute on their arguments only."""
AGGREGATE_COMBINATORS = ("SimpleState", "MergeState", "OrDefault", "Resample", "ForEach", "Distinct", "ArgMin",
                         "ArgMax", "OrNull", "State", "Merge", "Array", "Map", "If")
SYSTEM_TABLES = frozenset({"system.tables", "system.columns", "system.functions", "system.data_type_families",
                           "system.one", "information_schema.tables", "information_schema.columns",
                           "INFORMATION_SCHEMA.TABLES", "INFORMATION_SCHEMA.COLUMNS"})
"""Metadata analysts may read, to find their way round the schema."""

_NODES = frozenset({
    "SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery", "ExpressionList", "TablesInSelectQuery",
    "TablesInSelectQueryElement", "TableExpression", "TableIdentifier", "TableJoin", "ArrayJoin", "Function",
    "Identifier", "Literal", "Asterisk", "QualifiedAsterisk", "ColumnsRegexpMatcher", "ColumnsListMatcher",
    "QualifiedColumnsRegexpMatcher", "QualifiedColumnsListMatcher", "ColumnsTransformerList",
    "ColumnsExceptTransformer", "ColumnsReplaceTransformer", "ColumnsReplaceTransformerReplacement",
    "ColumnsApplyTransformer", "Subquery", "WithElement", "OrderByElement", "WindowDefinition", "WindowListElement",
    "SampleRatio", "InterpolateElement", "QueryParameter",
})
"""AST nodes of a read; anything else (``SetQuery`` for SETTINGS, every DDL and DML node) is refused."""
_CLAUSES = {"out_file": "INTO OUTFILE", "settings": "SETTINGS", "format_ast": "FORMAT",
            "compression": "COMPRESSION"}
"""Keys of a statement that send results elsewhere or change settings."""
_EXPLAIN_KINDS = frozenset({"EXPLAIN", "EXPLAIN AST", "EXPLAIN SYNTAX", "EXPLAIN PLAN", "EXPLAIN PIPELINE",
                            "EXPLAIN ESTIMATE", "EXPLAIN QUERY TREE"})


@dataclass(frozen=True)
class FunctionAllowlist:
    names: frozenset[str]
    case_insensitive: frozenset[str]
    aggregates: frozenset[str]

    @classmethod
    def from_catalogue(cls, rows: Iterable[tuple[str, str, int, int, str]]) -> FunctionAllowlist:
        """From ``SELECT name, categories, is_aggregate, case_insensitive, alias_to FROM system.functions``."""
        catalogue = list(rows)
        safe = {name for name, categories, *_ in catalogue
                if categories and set(categories.split(", ")) <= SAFE_CATEGORIES} | EXTRA_FUNCTIONS
        safe |= {name for name, _, _, _, alias_to in catalogue if alias_to and alias_to in safe}
        aggregates = {name for name, _, is_aggregate, _, _ in catalogue if is_aggregate and name in safe}
        insensitive = {name.lower() for name, _, _, case_insensitive, _ in catalogue if case_insensitive and name in safe}
        return cls(frozenset(safe), frozenset(insensitive), frozenset(aggregates))

    def allows(self, name: str) -> bool:
        if name in self.names or name.lower() in self.case_insensitive:
            return True
        stem = name
        while True:  # countIf, uniqExactMerge, sumArrayIf: an aggregate with combinators
            suffix = next((s for s in AGGREGATE_COMBINATORS if stem.endswith(s) and len(stem) > len(s)), None)
            if suffix is None:
                return False
            stem = stem[: -len(suffix)]
            if stem in self.aggregates:
                return True


class QueryGuard:
    """Checks one statement's JSON AST (``parseQueryToJSON``); raises :class:`ReadOnlyViolation` saying why not."""

    def __init__(self, database: str, databases: Iterable[str], functions: FunctionAllowlist, *,
                 hidden_tables: Iterable[str] = ()) -> None:
        self.database = database
        self.other_databases = frozenset(databases) - {database}
        self.functions = functions
        self.hidden = frozenset(hidden_tables)

    def check(self, ast: dict[str, Any]) -> None:
        kind = ast.get("type")
        if kind == "ExplainQuery":
            if ast.get("kind") not in _EXPLAIN_KINDS or not isinstance(ast.get("query"), dict) \
                    or ast["query"].get("type") != "SelectWithUnionQuery":
                raise ReadOnlyViolation("EXPLAIN takes one plain SELECT")
        elif kind != "SelectWithUnionQuery":
            raise ReadOnlyViolation(
                f"{_statement_name(str(kind))} is not allowed: analysts' queries are one SELECT (or WITH ... SELECT, "
                "or EXPLAIN SELECT); list tables with SELECT name, comment FROM system.tables WHERE database = "
                f"'{self.database}' and columns with SELECT name, type, comment FROM system.columns WHERE table = "
                "'incidents'")
        pending: list[tuple[Any, str]] = [(ast, "")]
        while pending:
            value, key = pending.pop()
            if isinstance(value, list):
                pending.extend((item, key) for item in value)
                continue
            if not isinstance(value, dict) or "field_type" in value:  # a literal's value: data, not a node
                continue
            node = value.get("type")
            if node is not None:
                self._check_node(value, str(node), key)
            for child_key, child in value.items():
                if child_key in _CLAUSES and child is not None:
                    raise ReadOnlyViolation(f"{_CLAUSES[child_key]} is not allowed: limits are set by crimelink, and "
                                            "results come back to you, not to a file")
                if isinstance(child, (dict, list)):
                    pending.append((child, child_key))

    def _check_node(self, node: dict[str, Any], kind: str, key: str) -> None:
        if kind in ("SelectWithUnionQuery", "ExplainQuery") and key == "":
            return
        if kind not in _NODES:
            raise ReadOnlyViolation(f"{_statement_name(kind)} is not allowed in analysts' queries")
        if kind == "Function":
            name = str(node.get("name", ""))
            if key == "table_function":
                raise ReadOnlyViolation(f"table function {name}() is not allowed: query crimelink's tables")
            if not self.functions.allows(name):
                raise ReadOnlyViolation(f"function {name}() is not allowed in analysts' queries")
        elif kind == "ColumnsApplyTransformer":
            name = str(node.get("func_name", ""))
            if not self.functions.allows(name):
                raise ReadOnlyViolation(f"function {name}() is not allowed in analysts' queries")
        elif kind == "TableIdentifier":
            self._check_table([str(part) for part in node.get("name_parts") or [node.get("name", "")]])
        elif kind == "Identifier":
            self._check_identifier([str(part) for part in node.get("name_parts") or [node.get("name", "")]])

    def _check_table(self, parts: list[str]) -> None:
        name = ".".join(parts)
        if parts[-1] in self.hidden and (len(parts) == 1 or parts[0] == self.database):
            raise ReadOnlyViolation(f"{parts[-1]} is not open to analysts' queries")
        if len(parts) > 1 and parts[0] != self.database and name not in SYSTEM_TABLES:
            raise ReadOnlyViolation(f"{name} is outside crimelink's database: query crimelink's tables and views "
                                    f"(readable metadata: {', '.join(sorted(SYSTEM_TABLES))})")

    def _check_identifier(self, parts: list[str]) -> None:
        name = ".".join(parts)
        if any(part in self.hidden for part in parts):
            raise ReadOnlyViolation(f"{name} is not open to analysts' queries")
        if len(parts) > 1 and parts[0] in self.other_databases and ".".join(parts[:2]) not in SYSTEM_TABLES:
            raise ReadOnlyViolation(f"{name} is outside crimelink's database")


def _statement_name(kind: str) -> str:
    """``InsertQuery`` -> ``INSERT``, ``CreateQuery`` -> ``CREATE``, ``SetQuery`` -> ``SET``."""
    words = "".join(f" {c}" if c.isupper() else c for c in kind).split()
    words = [w for w in words if w != "Query"]
    return " ".join(words).upper() or kind
