"""Checked incidents -> ClickHouse ``incidents``, one insert per batch."""

from __future__ import annotations

from schemas.incident import Incident
from sinks.clickhouse import INCIDENT_COLUMNS, BatchSink, incident_row
from streams import store, topics
from streams.app import app

__all__ = ["store_incidents"]


@app.agent(topics.checked)
async def store_incidents(stream):  # type: ignore[no-untyped-def]
    await store.drain(stream, BatchSink(store.store(), "incidents", INCIDENT_COLUMNS, incident_row), Incident.model_validate_json)
