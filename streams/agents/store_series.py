"""Series -> ClickHouse ``series``, one insert per batch."""

from __future__ import annotations

from schemas.correlation import Series
from sinks.clickhouse import SERIES_COLUMNS, BatchSink, series_row
from streams import store, topics
from streams.app import app

__all__ = ["store_series"]


@app.agent(topics.series)
async def store_series(stream):  # type: ignore[no-untyped-def]
    await store.drain(stream, BatchSink(store.store(), "series", SERIES_COLUMNS, series_row), Series.model_validate_json)
