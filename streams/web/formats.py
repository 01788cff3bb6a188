"""Query results as JSON and CSV. CSV cells that a spreadsheet would run as a formula are neutralised
(``crimelink.safe_text.csv_cell``)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any

from crimelink.safe_text import csv_cell
from crimelink.sinks.clickhouse import QueryResult

__all__ = ["to_json", "to_csv", "json_default"]


def json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def to_json(result: QueryResult) -> bytes:
    payload = {"columns": result.columns, "types": result.types, "rows": [list(row) for row in result.rows]}
    return json.dumps(payload, default=json_default).encode()


def to_csv(result: QueryResult) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(column) for column in result.columns])
    writer.writerows([csv_cell(value) for value in row] for row in result.rows)
    return buffer.getvalue().encode()
