"""The published contract of each raw feed format: a JSON Schema of one record with its example, written to
``schemas/feeds/<format>.schema.json`` by ``crimelink schema`` (a test fails when a file drifts from the adapters) and
embedded in the retailer gateway's OpenAPI document."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from crimelink.intake.feeds import adapters
from crimelink.schemas.reference import REFERENCE_DIR

__all__ = ["FEED_SCHEMA_DIR", "feed_schema", "render_feed_schemas", "example_document"]

FEED_SCHEMA_DIR = REFERENCE_DIR.parent / "feeds"


def example_document(feed_format: str) -> Any:
    """The adapter's example record as a JSON value: the document itself, or a CSV row as an object of its columns."""
    adapter = adapters()[feed_format]
    if adapter.encoding == "csv":
        header, row = list(csv.reader(io.StringIO(adapter.example.decode())))[:2]
        return {column: value for column, value in zip(header, row, strict=True) if value}
    return json.loads(adapter.example)


def feed_schema(feed_format: str) -> dict[str, Any]:
    adapter = adapters()[feed_format]
    document = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": f"https://crimelink.invalid/schemas/feeds/{feed_format}.schema.json",
                **adapter.record_schema()}
    document["description"] = f"{adapter.description}. {document.get('description', '')}".strip()
    document["x-crimelink-feed-format"] = feed_format
    document["examples"] = [example_document(feed_format)]
    return document


def render_feed_schemas() -> dict[Path, str]:
    """Each feed format's schema file and its text."""
    return {FEED_SCHEMA_DIR / f"{name}.schema.json": json.dumps(feed_schema(name), indent=2, sort_keys=True,
                                                                 ensure_ascii=False) + "\n"
            for name in sorted(adapters())}
