"""Links -> ClickHouse ``links``, one insert per batch."""

from __future__ import annotations

from schemas.correlation import Link
from sinks.clickhouse import LINK_COLUMNS, BatchSink, link_row
from streams import store, topics
from streams.app import app

__all__ = ["store_links"]


@app.agent(topics.links)
async def store_links(stream):  # type: ignore[no-untyped-def]
    await store.drain(stream, BatchSink(store.store(), "links", LINK_COLUMNS, link_row), Link.model_validate_json)
