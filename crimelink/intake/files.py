"""Split a feed file into the messages a retailer would publish: JSON Lines (or a JSON array) for
JSON formats, one header+row message per data row for CSV formats. Used by ``validate`` and ``ingest``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crimelink.errors import FeedError
from crimelink.intake.feeds import adapter_for

__all__ = ["FileRecord", "read_feed_file", "count_records"]


@dataclass(frozen=True, slots=True)
class FileRecord:
    line: int  # 1-based line of the file where the record starts
    payload: bytes


def read_feed_file(path: Path, feed_format: str) -> Iterator[FileRecord]:
    adapter = adapter_for(feed_format)
    if not path.exists():
        raise FeedError(f"{path} does not exist")
    if adapter.encoding == "csv":
        yield from _csv_records(path)
    else:
        yield from _json_records(path)


def count_records(path: Path, feed_format: str) -> int:
    return sum(1 for _ in read_feed_file(path, feed_format))


def _json_records(path: Path) -> Iterator[FileRecord]:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            documents = json.loads(stripped)
        except json.JSONDecodeError as error:
            raise FeedError(f"{path} starts like a JSON array but is not one: {error}") from None
        for number, document in enumerate(documents, start=1):
            yield FileRecord(number, json.dumps(document).encode())
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield FileRecord(number, line.encode("utf-8", errors="surrogateescape"))


def _csv_records(path: Path) -> Iterator[FileRecord]:
    from crimelink.intake.feeds.bcp_csv import to_message

    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            return
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                buffer = io.StringIO()
                buffer.write(f"unreadable CSV row: {error}")
                yield FileRecord(line, buffer.getvalue().encode())
                continue
            if any(cell.strip() for cell in row):
                yield FileRecord(line, to_message(header, row))
