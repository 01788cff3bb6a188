"""Guard for analysts' queries: one read-only statement, checked before ClickHouse sees it.

ClickHouse enforces it again (``readonly=1`` on every analyst query); this check exists to
answer with a clear message instead of an engine error code.
"""

from __future__ import annotations

import re

from crimelink.errors import ReadOnlyViolation

__all__ = ["check_read_only", "READ_ONLY_SETTINGS"]

READ_ONLY_SETTINGS = {"readonly": 1}
_ALLOWED_FIRST_WORDS = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"}
_TOKEN = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`)
  | (?P<semicolon>;)
  | (?P<word>[A-Za-z_]+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def check_read_only(sql: str) -> str:
    """The statement without a trailing semicolon, or :class:`ReadOnlyViolation` saying why not."""
    words: list[str] = []
    end_of_statement = None
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        if kind == "semicolon":
            end_of_statement = match.start()
            continue
        if kind in ("comment",) or (kind == "other" and match.group().isspace()):
            continue
        if end_of_statement is not None:
            raise ReadOnlyViolation("only one statement per query: remove everything after the first ';'")
        if kind == "word":
            words.append(match.group().upper())
    if not words:
        raise ReadOnlyViolation("the query is empty")
    if words[0] not in _ALLOWED_FIRST_WORDS:
        raise ReadOnlyViolation(
            f"{words[0]} is not allowed: queries are read-only (start with SELECT, WITH, SHOW, DESCRIBE or EXPLAIN)"
        )
    forbidden = {"INSERT", "ALTER", "DROP", "TRUNCATE", "SYSTEM", "KILL", "GRANT", "REVOKE", "OPTIMIZE",
                 "ATTACH", "DETACH", "RENAME", "CREATE", "DELETE", "UPDATE"}
    if words[0] == "EXPLAIN" or words[0] == "WITH":
        hit = next((word for word in words if word in forbidden), None)
        if hit:
            raise ReadOnlyViolation(f"{hit} is not allowed: queries are read-only")
    return (sql[:end_of_statement] if end_of_statement is not None else sql).strip()
