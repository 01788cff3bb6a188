"""Retailer feedback -> ClickHouse ``retailer_feedback``, one insert per batch."""

from __future__ import annotations

from schemas.outcomes import Feedback
from sinks.clickhouse import FEEDBACK_COLUMNS, BatchSink, feedback_row
from streams import store, topics
from streams.app import app

__all__ = ["store_feedback"]


@app.agent(topics.feedback)
async def store_feedback(stream):  # type: ignore[no-untyped-def]
    sink = BatchSink(store.store(), "retailer_feedback", FEEDBACK_COLUMNS, feedback_row)
    await store.drain(stream, sink, Feedback.model_validate_json)
