"""Series records -> ClickHouse ``series``, one insert per batch."""

from __future__ import annotations

from crimelink.settings import get_settings
from schemas.correlation import Series
from sinks.clickhouse import SERIES_COLUMNS, BatchSink, series_row
from streams import store, topics
from streams.app import app

__all__ = ["store_series"]

_settings = get_settings()


@app.agent(topics.series)
async def store_series(stream):  # type: ignore[no-untyped-def]
    sink: BatchSink[Series] = BatchSink(store.store(), "series", SERIES_COLUMNS, series_row)
    async for values in stream.take(_settings.sink_batch_size, within=_settings.sink_flush_seconds):
        for value in values:
            sink.add(Series.model_validate_json(value))
        await store.flush_with_retry(sink)
