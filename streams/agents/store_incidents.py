"""Checked incidents -> ClickHouse ``incidents``, one insert per batch."""

from __future__ import annotations

from crimelink.settings import get_settings
from schemas.incident import Incident
from sinks.clickhouse import INCIDENT_COLUMNS, BatchSink, incident_row
from streams import store, topics
from streams.app import app

__all__ = ["store_incidents"]

_settings = get_settings()


@app.agent(topics.checked)
async def store_incidents(stream):  # type: ignore[no-untyped-def]
    sink: BatchSink[Incident] = BatchSink(store.store(), "incidents", INCIDENT_COLUMNS, incident_row)
    async for values in stream.take(_settings.sink_batch_size, within=_settings.sink_flush_seconds):
        for value in values:
            sink.add(Incident.model_validate_json(value))
        await store.flush_with_retry(sink)
