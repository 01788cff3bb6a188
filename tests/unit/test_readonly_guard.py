import pytest

from crimelink.errors import ReadOnlyViolation
from crimelink.sinks.readonly import check_read_only


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "select count() from incidents_latest;",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "SELECT ';' AS semicolon_in_a_string",
        "-- a comment\nSELECT 1 /* another; */",
        "SHOW TABLES",
        "DESCRIBE incidents",
    ],
)
def test_read_only_statements_pass(sql: str) -> None:
    statement = check_read_only(sql)
    assert statement and not statement.endswith(";")


@pytest.mark.parametrize(
    "sql,message",
    [
        ("INSERT INTO incidents VALUES (1)", "INSERT is not allowed"),
        ("ALTER TABLE incidents DELETE WHERE 1", "ALTER is not allowed"),
        ("DROP TABLE incidents", "DROP is not allowed"),
        ("SYSTEM STOP MERGES", "SYSTEM is not allowed"),
        ("SELECT 1; DROP TABLE incidents", "only one statement"),
        ("SELECT 1; SELECT 2", "only one statement"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT is not allowed"),
        ("   ", "empty"),
        ("/* only a comment */", "empty"),
    ],
)
def test_everything_else_is_refused_with_a_reason(sql: str, message: str) -> None:
    with pytest.raises(ReadOnlyViolation, match=message):
        check_read_only(sql)


def test_trailing_semicolon_is_dropped() -> None:
    assert check_read_only("SELECT 1 ;  ") == "SELECT 1"
