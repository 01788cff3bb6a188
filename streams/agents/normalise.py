"""Raw feed records -> canonical incidents (one envelope per batch and partition), or dead letters with the reason.

It runs in the intake workers the worker starts (``crimelink.streams.engine.intake_workers``), or in the worker itself
when ``CRIMELINK_INTAKE_PROCESSES`` is 0. The gate always runs beside it, so each envelope is kept with its models for
the gate to take back (``crimelink.streams.engine.envelopes``). Batches overlap: one is normalised while the one before
is still on its way to the broker; each batch's output is delivered in order, and its records acknowledged only once it
is (``crimelink.streams.engine.checkpoint``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crimelink.intake.edges import EventWindow
from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.streams.engine.checkpoint import InOrderDelivery
from crimelink.streams.normalising import normalise_batch
from crimelink.streams.topics import TopicNames, received_at
from crimelink.streams.wiring import Wiring

__all__ = ["install"]

_IN_FLIGHT = 2
"""Batches taken but not yet acknowledged: one being normalised, one being delivered."""


def install(app: Any, wiring: Wiring) -> Any:
    """Adds the normalise agent to ``app``; returns it."""
    settings, names = wiring.settings, wiring.names
    normaliser = Normaliser(StoreRegistry.load(settings.stores_file), EventWindow.from_settings(settings.intake))
    batch_size, batch_seconds = settings.worker.batch_size, settings.worker.batch_seconds
    partitions = settings.kafka.topic_partitions

    @app.agent(wiring.topics.raw, name="normalise_feeds")
    async def normalise_feeds(stream):  # type: ignore[no-untyped-def]
        delivery = InOrderDelivery(stream, _IN_FLIGHT, wiring.send)
        try:
            async for events in stream.noack_take(batch_size, within=batch_seconds):
                batch = normalise_batch(normaliser, _records(events, names), names, partitions)
                for envelope, incidents in batch.envelopes:
                    wiring.sent_incidents.remember(envelope, incidents)
                await delivery.submit(events, batch.output)  # a failure stops the agent here, as it would inline
        finally:
            delivery.cancel()

    return normalise_feeds


def _records(events: list[Any], names: TopicNames) -> list[RawRecord]:
    now = datetime.now(UTC)
    return [RawRecord(names.feed_of(event.message.topic) or "unknown", event.value or b"", event.message.topic,
                      event.message.partition, event.message.offset, received_at(event.message, now),
                      names.channel_of(event.message.topic))
            for event in events]
