"""Dead letters -> ClickHouse ``dead_letters``, one insert per batch."""

from __future__ import annotations

from schemas.outcomes import DeadLetter
from sinks.clickhouse import DEAD_LETTER_COLUMNS, BatchSink, dead_letter_row
from streams import store, topics
from streams.app import app

__all__ = ["store_dead_letters"]


@app.agent(topics.dead_letters)
async def store_dead_letters(stream):  # type: ignore[no-untyped-def]
    sink = BatchSink(store.store(), "dead_letters", DEAD_LETTER_COLUMNS, dead_letter_row)
    await store.drain(stream, sink, DeadLetter.model_validate_json)
