"""Raw feed records -> canonical incidents (one envelope per batch and partition), or dead letters with the reason.

The work itself runs in a helper process when ``CRIMELINK_NORMALISER_PROCESSES`` allows (``streams.normalising``),
so batches overlap: while the helper normalises one batch, the worker delivers the one before and buffers the next.
Each batch's output is still delivered in order, and its records acknowledged only once it is.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime
from typing import Any

from crimelink.normalise import RawRecord
from crimelink.settings import get_settings
from streams import topics
from streams.app import app
from streams.envelopes import sent_incidents
from streams.normalising import NormaliserPool
from streams.output import deliver

__all__ = ["normalise_feeds", "pool"]

_settings = get_settings()
pool = NormaliserPool(_settings.normaliser_processes, _settings.stores_file, topics.names, _settings.topic_partitions,
                      _settings.gc_young_threshold)
_IN_FLIGHT = 2
"""Batches taken but not yet acknowledged: one in the helper, one being delivered."""


@app.agent(topics.raw)
async def normalise_feeds(stream):  # type: ignore[no-untyped-def]
    await pool.start()
    in_flight: deque[asyncio.Task[None]] = deque()
    try:
        async for events in stream.noack_take(_settings.batch_size, within=_settings.batch_seconds):
            while len(in_flight) >= _IN_FLIGHT:
                await in_flight.popleft()
            in_flight.append(asyncio.ensure_future(_normalise_and_send(stream, events, in_flight[-1] if in_flight else None)))
            while in_flight and in_flight[0].done():
                in_flight.popleft().result()  # a failure stops the agent here, as it would have inline
    finally:
        for task in in_flight:
            task.cancel()


async def _normalise_and_send(stream: Any, events: list[Any], previous: asyncio.Task[None] | None) -> None:
    """Delivers after the previous batch, then acknowledges: offsets never run ahead of output."""
    received_at = datetime.now(UTC)
    batch = await pool.normalise([
        RawRecord(topics.names.feed_of(event.message.topic) or "unknown", event.value or b"", event.message.topic,
                  event.message.partition, event.message.offset, received_at)
        for event in events
    ])
    for envelope, incidents in batch.envelopes:
        sent_incidents.remember(envelope, incidents)
    if previous is not None:
        await previous
    await deliver(batch.output)
    for event in events:
        await stream.ack(event)


@app.on_before_shutdown.connect
async def _stop_helpers(sender: Any, **_: Any) -> None:
    pool.close()
