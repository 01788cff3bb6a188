"""A request body -> the records in it, each as the bytes its raw topic carries (one Kafka message each).

JSON formats take one record (an object) or a batch (an array of objects); CSV formats take ``text/csv``: the header
line, then one row per record. A body that is none of these is refused whole (400) with what was wrong."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import orjson

from crimelink.intake.feeds import FeedAdapter
from crimelink.intake.feeds.bcp_csv import to_message

__all__ = ["Records", "BodyError", "split_body"]


class BodyError(Exception):
    """The body as a whole cannot be read: 400 (``status`` 415 for the wrong media type, 413 for too many records)."""

    def __init__(self, message: str, status: int = 400, limit: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.limit = limit


@dataclass(frozen=True)
class Records:
    payloads: list[bytes]
    single: bool
    """The body was one record (not a batch of one)."""


def split_body(adapter: FeedAdapter, content_type: str, body: bytes, max_records: int) -> Records:
    media = content_type.split(";")[0].strip().lower()
    if adapter.encoding == "csv":
        if media not in ("text/csv", "application/csv"):
            raise BodyError(f"the {adapter.name} format takes text/csv: the header line, then one row per record "
                            f"(got {media or 'no Content-Type'})", 415)
        return _csv_rows(body, max_records)
    if media != "application/json" and not media.endswith("+json"):
        raise BodyError(f"the {adapter.name} format takes application/json: one record, or an array of records "
                        f"(got {media or 'no Content-Type'})", 415)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BodyError(f"the body is not valid JSON: {error}") from None
    if isinstance(document, dict):
        return Records([orjson.dumps(document)], single=True)
    if not isinstance(document, list):
        raise BodyError(f"the body must be a JSON object (one record) or an array of them, not {type(document).__name__}")
    if not document:
        raise BodyError("the array holds no record")
    if len(document) > max_records:
        raise BodyError(f"{len(document)} records in one request; the most is {max_records}: split the batch", 413,
                        max_records)
    not_objects = [index for index, item in enumerate(document) if not isinstance(item, dict)]
    if not_objects:
        raise BodyError(f"every item of the array must be a JSON object (one record); items {not_objects[:10]} are not")
    return Records([orjson.dumps(item) for item in document], single=False)


def _csv_rows(body: bytes, max_records: int) -> Records:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BodyError(f"the CSV is not UTF-8 (byte {error.start + 1}): save it as UTF-8") from None
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise BodyError(f"the CSV cannot be read: {error}") from None
    if len(rows) < 2:
        raise BodyError("the CSV needs its header line and at least one row")
    header, data = rows[0], rows[1:]
    if len(data) > max_records:
        raise BodyError(f"{len(data)} rows in one request; the most is {max_records}: split the file", 413, max_records)
    try:
        return Records([to_message(header, row) for row in data], single=len(data) == 1)
    except UnicodeEncodeError:
        raise BodyError("the CSV holds text that is not valid Unicode") from None
