"""Link records -> ClickHouse ``links``, one insert per batch."""

from __future__ import annotations

from crimelink.settings import get_settings
from schemas.correlation import Link
from sinks.clickhouse import LINK_COLUMNS, BatchSink, link_row
from streams import store, topics
from streams.app import app

__all__ = ["store_links"]

_settings = get_settings()


@app.agent(topics.links)
async def store_links(stream):  # type: ignore[no-untyped-def]
    sink: BatchSink[Link] = BatchSink(store.store(), "links", LINK_COLUMNS, link_row)
    async for values in stream.take(_settings.sink_batch_size, within=_settings.sink_flush_seconds):
        for value in values:
            sink.add(Link.model_validate_json(value))
        await store.flush_with_retry(sink)
