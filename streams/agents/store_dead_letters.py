"""Dead letters -> ClickHouse ``dead_letters``, one insert per batch."""

from __future__ import annotations

from crimelink.settings import get_settings
from schemas.outcomes import DeadLetter
from sinks.clickhouse import DEAD_LETTER_COLUMNS, BatchSink, dead_letter_row
from streams import store, topics
from streams.app import app

__all__ = ["store_dead_letters"]

_settings = get_settings()


@app.agent(topics.dead_letters)
async def store_dead_letters(stream):  # type: ignore[no-untyped-def]
    sink: BatchSink[DeadLetter] = BatchSink(store.store(), "dead_letters", DEAD_LETTER_COLUMNS, dead_letter_row)
    async for values in stream.take(_settings.sink_batch_size, within=_settings.sink_flush_seconds):
        for value in values:
            sink.add(DeadLetter.model_validate_json(value))
        await store.flush_with_retry(sink)
