"""Checked incidents -> the one-partition correlation topic (correlation needs every incident in one place)."""

from __future__ import annotations

import json

from streams import topics
from streams.app import app

__all__ = ["feed_correlation"]


@app.agent(topics.checked)
async def feed_correlation(stream):  # type: ignore[no-untyped-def]
    async for event in stream.events():
        envelope = b'{"command": "incident", "incident": ' + event.value + b"}"
        await topics.correlation_in.send(key=event.key, value=envelope)


def sweep_command() -> bytes:
    return json.dumps({"command": "sweep"}).encode()
