"""Retailer feedback -> ClickHouse ``retailer_feedback``, one insert per batch."""

from __future__ import annotations

from crimelink.settings import get_settings
from schemas.outcomes import Feedback
from sinks.clickhouse import FEEDBACK_COLUMNS, BatchSink, feedback_row
from streams import store, topics
from streams.app import app

__all__ = ["store_feedback"]

_settings = get_settings()


@app.agent(topics.feedback)
async def store_feedback(stream):  # type: ignore[no-untyped-def]
    sink: BatchSink[Feedback] = BatchSink(store.store(), "retailer_feedback", FEEDBACK_COLUMNS, feedback_row)
    async for values in stream.take(_settings.sink_batch_size, within=_settings.sink_flush_seconds):
        for value in values:
            sink.add(Feedback.model_validate_json(value))
        await store.flush_with_retry(sink)
