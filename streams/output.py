"""What an agent produces for one step, sent as record batches (``streams.record_batches``) by the
worker's one producer, acknowledged before the agent moves on.

An agent collects its step's records in an :class:`Output`; :func:`deliver` builds one record
batch per topic partition (keys hashed as Kafka's default partitioner does) and returns once the
broker has them. Faust acknowledges an event only when the agent asks for the next one, so
offsets are never committed ahead of what the event produced: at-least-once, as with ``send_soon``.
"""

from __future__ import annotations

from typing import Any

from crimelink.settings import get_settings
from streams.app import app
from streams.record_batches import MAX_RECORD_BYTES, BatchProducer, Output

__all__ = ["MAX_RECORD_BYTES", "Output", "BatchProducer", "deliver"]

_shared: BatchProducer | None = None


async def deliver(output: Output) -> None:
    """Send ``output`` with the worker's one producer (see :meth:`BatchProducer.deliver`)."""
    global _shared  # noqa: PLW0603 - one producer per worker process, made on first use
    if _shared is None:
        settings = get_settings()
        _shared = BatchProducer(settings.effective_kafka_bootstrap, f"{settings.app_id}-output")
    await _shared.deliver(output)


@app.on_before_shutdown.connect
async def _stop_shared(sender: Any, **_: Any) -> None:
    global _shared  # noqa: PLW0603
    if _shared is not None:
        await _shared.stop()
        _shared = None
