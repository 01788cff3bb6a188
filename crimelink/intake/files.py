"""Split a feed file into the messages a retailer would publish: JSON Lines (or a JSON array) for
JSON formats, one header+row message per data row for CSV formats. Used by ``validate`` and ``ingest``.

Every problem of one record is that record's: a line over :data:`~crimelink.intake.edges.MAX_RECORD_BYTES`, bytes
that are not UTF-8, a CSV row the reader cannot split. Such a record comes with its reason (``FileRecord.problem``)
and the rest of the file is read on; nothing of it raises. A line is never read whole when it is too long, so a 50 MB
line costs 1 MB of memory, not gigabytes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from crimelink.errors import FeedError
from crimelink.intake.edges import MAX_RECORD_BYTES, size_reasons
from crimelink.intake.feeds import adapter_for
from crimelink.schemas.outcomes import Reason

__all__ = ["FileRecord", "read_feed_file", "count_records"]

_SNIPPET = 200


@dataclass(frozen=True, slots=True)
class FileRecord:
    line: int  # 1-based line of the file where the record starts
    payload: bytes  # at most MAX_RECORD_BYTES (a snippet when the record was too long)
    problem: Reason | None = None
    """Why this record cannot be sent as it is (too long, not UTF-8, not a CSV row); None for a readable record."""


def read_feed_file(path: Path, feed_format: str) -> Iterator[FileRecord]:
    adapter = adapter_for(feed_format)
    if not path.is_file():
        raise FeedError(f"{path} does not exist or is not a file")
    if adapter.encoding == "csv":
        yield from _csv_records(path)
    else:
        yield from _json_records(path)


def count_records(path: Path, feed_format: str) -> int:
    return sum(1 for _ in read_feed_file(path, feed_format))


def _json_records(path: Path) -> Iterator[FileRecord]:
    with path.open("rb") as handle:
        start = handle.read(64).lstrip()
        handle.seek(0)
        if start.startswith(b"["):
            yield from _json_array(path, handle)
            return
        for number, line, too_long in _lines(handle):
            if too_long:
                yield FileRecord(number, line, _too_long(too_long))
            elif line.strip():
                yield FileRecord(number, line, _encoding_problem(line))


def _json_array(path: Path, handle: BinaryIO) -> Iterator[FileRecord]:
    """A file holding one JSON array: read whole (it is one document), with orjson, whose nesting limit (1,024) ends
    in a parse error rather than in Python's recursion limit."""
    try:
        documents = orjson.loads(handle.read())
    except orjson.JSONDecodeError as error:
        raise FeedError(f"{path} starts like a JSON array but is not one: {error}") from None
    if not isinstance(documents, list):
        raise FeedError(f"{path} starts like a JSON array but is not one")
    for number, document in enumerate(documents, start=1):
        payload = orjson.dumps(document)
        if len(payload) > MAX_RECORD_BYTES:
            yield FileRecord(number, payload[:_SNIPPET], _too_long(len(payload)))
        else:
            yield FileRecord(number, payload)


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes, int]]:
    """(line number, line without its end, 0) for each line; for a line over the limit, (number, its first bytes,
    its length without its end), having skipped the rest of it without keeping it."""
    number = 0
    while True:
        line = handle.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) <= MAX_RECORD_BYTES or line.endswith(b"\n"):
            yield number, line.rstrip(b"\r\n"), 0
            continue
        first, length = line[:_SNIPPET], len(line)
        while not line.endswith(b"\n"):
            line = handle.readline(1024 * 1024)
            if not line:
                break
            length += len(line)
        yield number, first, length - len(line) + len(line.rstrip(b"\r\n"))


def _too_long(length: int) -> Reason:
    return size_reasons(length)[0]


def _encoding_problem(payload: bytes) -> Reason | None:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return Reason(field="$", problem="invalid-encoding", value=payload[max(0, error.start - 20):error.end + 20]
                      .decode("utf-8", "backslashreplace"),
                      message=f"byte {error.start + 1} is not UTF-8 ({error.reason}): save the file as UTF-8 and "
                              "send it again")
    return None


def _csv_records(path: Path) -> Iterator[FileRecord]:
    from crimelink.intake.feeds.bcp_csv import to_message

    # surrogateescape: bytes that are not UTF-8 survive reading as lone surrogates, and make their row's problem only.
    with path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FeedError(f"{path}: the header row cannot be read as CSV: {error}") from None
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield FileRecord(line, f"unreadable CSV row: {error}".encode(), Reason(
                    field="$", problem="unreadable-row", message=f"the row cannot be read as CSV: {error}"))
                continue
            if not any(cell.strip() for cell in row):
                continue
            try:
                payload, problem = to_message(header, row), None
            except UnicodeEncodeError:  # a byte that was not UTF-8, kept as a lone surrogate: show the row's bytes
                payload = ",".join(row).encode("utf-8", "surrogateescape")
                problem = _encoding_problem(payload)
            if len(payload) > MAX_RECORD_BYTES:
                yield FileRecord(line, payload[:_SNIPPET], _too_long(len(payload)))
            else:
                yield FileRecord(line, payload, problem)
