"""Retailers' crime-number updates -> gate commands keyed by incident (so they meet the held incident's partition)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import ValidationError

from crimelink.feeds.base import reasons_from_validation
from schemas.outcomes import CrimeNumberUpdate, DeadLetter, Reason
from streams import topics
from streams.app import app
from streams.output import Output, deliver

__all__ = ["route_crime_number_updates"]


@app.agent(topics.crime_number_updates)
async def route_crime_number_updates(stream):  # type: ignore[no-untyped-def]
    """Each update's command (or dead letter) is delivered before the next is taken, so offsets never run ahead of it."""
    async for event in stream.events():
        message = event.message
        output = Output()
        try:
            update = CrimeNumberUpdate.model_validate_json(event.value or b"")
        except ValidationError as error:
            reasons = reasons_from_validation(error) or [Reason(field="$", problem="invalid", message=str(error))]
            letter = DeadLetter.from_raw(event.value or b"", reasons, feed_format="crime_number_update",
                                         topic=message.topic, partition=message.partition, offset=message.offset,
                                         received_at=datetime.now(UTC))
            output.add(topics.names.dead_letters, letter.key.encode(), letter.model_dump_json().encode())
        else:
            command = {"command": "update", "update": update.model_dump(mode="json")}
            output.add(topics.names.gate_commands, update.key.encode(), json.dumps(command).encode())
        await deliver(output)
