"""Raw feed records -> canonical incidents (one envelope per batch and partition), or dead letters with the reason.

It runs in the intake workers the worker starts (``streams.intake_workers``), or in the worker itself when
``CRIMELINK_INTAKE_PROCESSES`` is 0. The gate always runs beside it, so each envelope is kept with its models for the
gate to take back (``streams.envelopes``). Batches overlap: one is normalised while the one before is still on its way
to the broker; each batch's output is delivered in order, and its records acknowledged only once it is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crimelink.normalise import Normaliser, RawRecord
from crimelink.settings import get_settings
from crimelink.stores import StoreRegistry
from streams import topics
from streams.app import app
from streams.envelopes import sent_incidents
from streams.normalising import normalise_batch
from streams.output import InOrderDelivery

__all__ = ["normalise_feeds"]

_settings = get_settings()
_normaliser = Normaliser(StoreRegistry.load(_settings.stores_file))
_IN_FLIGHT = 2
"""Batches taken but not yet acknowledged: one being normalised, one being delivered."""


@app.agent(topics.raw)
async def normalise_feeds(stream):  # type: ignore[no-untyped-def]
    delivery = InOrderDelivery(stream, _IN_FLIGHT)
    try:
        async for events in stream.noack_take(_settings.batch_size, within=_settings.batch_seconds):
            batch = normalise_batch(_normaliser, _records(events), topics.names, _settings.topic_partitions)
            for envelope, incidents in batch.envelopes:
                sent_incidents.remember(envelope, incidents)
            await delivery.submit(events, batch.output)  # a failure stops the agent here, as it would inline
    finally:
        delivery.cancel()


def _records(events: list[Any]) -> list[RawRecord]:
    received_at = datetime.now(UTC)
    return [RawRecord(topics.names.feed_of(event.message.topic) or "unknown", event.value or b"", event.message.topic,
                      event.message.partition, event.message.offset, received_at) for event in events]
