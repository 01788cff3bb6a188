"""Raw feed records -> canonical incidents, or dead letters with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

from crimelink.gate import feedback_for_dead_letter
from crimelink.normalise import Normaliser, RawRecord
from crimelink.settings import get_settings
from crimelink.stores import StoreRegistry
from schemas.outcomes import DeadLetter
from streams import topics
from streams.app import app

__all__ = ["normalise_feeds"]

_normaliser = Normaliser(StoreRegistry.load(get_settings().stores_file))


@app.agent(topics.raw)
async def normalise_feeds(stream):  # type: ignore[no-untyped-def]
    async for events in stream.take_events(500, within=0.2):
        received_at = datetime.now(UTC)
        for event in events:
            message = event.message
            feed = topics.names.feed_of(message.topic) or "unknown"
            result = _normaliser.normalise(RawRecord(
                feed, event.value or b"", message.topic, message.partition, message.offset, received_at,
            ))
            if isinstance(result, DeadLetter):
                await topics.dead_letters.send(key=result.key.encode(), value=result.model_dump_json().encode())
                feedback = feedback_for_dead_letter(result)
                if feedback is not None:
                    await topics.feedback.send(key=feedback.key.encode(), value=feedback.model_dump_json().encode())
            else:
                await topics.normalised.send(key=result.key.encode(), value=result.model_dump_json().encode())
