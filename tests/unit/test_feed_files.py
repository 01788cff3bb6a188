"""Feed files read record by record (``crimelink validate``, ``crimelink ingest``): whatever is wrong with one record
is that record's rejection with a plain reason, never a traceback, and the rest of the file goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crimelink.cli.commands import main
from crimelink.cli.validate import validate_file
from crimelink.errors import FeedError
from crimelink.intake.edges import MAX_RECORD_BYTES
from crimelink.intake.files import read_feed_file
from crimelink.intake.stores import StoreRegistry
from tests.conftest import REPO, grocer_record

GOOD = json.dumps(grocer_record()).encode()


def _problems(path: Path, feed_format: str) -> list[tuple[int, str | None]]:
    return [(record.line, record.problem.problem if record.problem else None)
            for record in read_feed_file(path, feed_format)]


def test_an_over_long_line_is_its_own_rejection_and_is_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(GOOD + b"\n" + b'{"narrative": "' + b"x" * (3 * MAX_RECORD_BYTES) + b'"}\n' + GOOD + b"\n")
    records = list(read_feed_file(path, "national_grocer"))
    assert [(r.line, r.problem.problem if r.problem else None) for r in records] == [
        (1, None), (2, "too-large"), (3, None)]
    assert 0 < len(records[1].payload) <= 200 and "3,000,017 bytes" in (records[1].problem.value or "")


def test_bytes_that_are_not_utf8_are_their_record_s_rejection(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(GOOD + b"\n" + GOOD.replace(b"Two males", b"Two m\xe2les") + b"\n")
    assert _problems(path, "national_grocer") == [(1, None), (2, "invalid-encoding")]


def test_a_csv_export_that_is_not_utf8_is_read_row_by_row(tmp_path: Path) -> None:
    lines = (REPO / "tests" / "fixtures" / "bcp_csv.csv").read_bytes().splitlines()
    path = tmp_path / "latin.csv"
    path.write_bytes(b"\n".join([lines[0], lines[1].replace(b"Tillco", b"Till\xe9co"), lines[1]]) + b"\n")
    (verdict_bad, verdict_good), tally = validate_file(path, "bcp_csv", StoreRegistry.load())
    assert not verdict_bad.accepted and verdict_bad.outcome.reasons[0].problem == "invalid-encoding"
    assert "byte" in verdict_bad.outcome.reasons[0].message
    assert verdict_good.accepted and tally["rejected"] == 1


def test_a_json_array_nested_too_deep_is_refused_with_the_parser_s_message(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(FeedError, match="depth limit exceeded"):
        list(read_feed_file(path, "national_grocer"))


@pytest.mark.parametrize(("name", "content", "feed_format", "expected"), [
    ("pence.jsonl", json.dumps(grocer_record(loss={"lines": [
        {"category": "ALC", "description": "x", "qty": 1, "unit_price_pence": 379785907399902533270}]})).encode(),
     "national_grocer", "less_than_equal"),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "national_grocer", "depth limit exceeded"),
    ("latin.csv", (REPO / "tests" / "fixtures" / "bcp_csv.csv").read_bytes().replace(b"Tillco", b"Till\xe9co"),
     "bcp_csv", "invalid-encoding"),
    ("escape.jsonl", json.dumps(grocer_record(incident={"id": "NW-\x1b[31mRED", "revision": 1},
                                              store={"id": "NOPE"})).encode(), "national_grocer", "\\x1b[31mRED"),
])
def test_validate_says_what_is_wrong_and_never_prints_a_traceback(tmp_path: Path, name: str, content: bytes,
                                                                    feed_format: str, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["validate", str(path), "--format", feed_format])
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    assert "\x1b" not in result.output  # a record's terminal escapes are shown, not obeyed


def test_validate_shows_the_utc_time_and_issuing_force_and_warns_of_another_forces_number(tmp_path: Path) -> None:
    """Issue 23: a crime number naming Kent Police at a store in another force was accepted without a word."""
    path = tmp_path / "two.jsonl"
    path.write_text(json.dumps(grocer_record(occurred={"from": "2025-07-01T10:40:00+01:00"})) + "\n"
                    + json.dumps(grocer_record(incident={"id": "NW-KENT", "revision": 1},
                                               police={"crime_reference": "46/KT/012345/25", "force": "kent"})) + "\n")
    result = CliRunner().invoke(main, ["validate", str(path), "--format", "national_grocer"])
    assert result.exit_code == 0, result.output
    first, second = result.output.split("line 2:")
    assert "occurred 2025-07-01 09:40 UTC (the feed said '2025-07-01T10:40:00+01:00'" in first
    assert "issuing force sussex" in first and "WARNING" not in first
    assert "WARNING: the crime number's force (kent) is not the store's (sussex)" in second


def test_validate_words_each_reason_for_a_retailers_developer() -> None:
    """Issue 23: some reasons were pydantic's own messages ("Input should be a valid integer, unable to parse...")."""
    record = grocer_record(incident={"id": "NW-WORDS", "revision": "two"},
                           loss={"lines": [{"category": "ALC", "qty": -1, "unit_price_pence": 250}]})
    del record["store"]
    runner = CliRunner()
    with runner.isolated_filesystem():
        Path("one.jsonl").write_text(json.dumps(record) + "\n")
        result = runner.invoke(main, ["validate", "one.jsonl", "--format", "national_grocer"])
    assert result.exit_code == 1
    assert "incident.revision: int_parsing: revision must be a whole number" in result.output
    assert "store: missing: store is required, and the record does not have it" in result.output
    assert "loss.lines.0.qty: greater_than_equal: qty must be 0 or more" in result.output
    assert "Input should" not in result.output and "Field required" not in result.output
