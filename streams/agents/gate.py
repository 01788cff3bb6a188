"""Normalised incidents -> incidents with a checked crime number and an explicit eligibility."""

from __future__ import annotations

from crimelink.gate import apply_gate
from schemas.incident import Incident
from streams import topics
from streams.app import app

__all__ = ["crime_number_gate"]


@app.agent(topics.normalised)
async def crime_number_gate(stream):  # type: ignore[no-untyped-def]
    async for events in stream.take_events(500, within=0.2):
        for event in events:
            incident = apply_gate(Incident.model_validate_json(event.value))
            await topics.checked.send(key=event.key, value=incident.model_dump_json().encode())
