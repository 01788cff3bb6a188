"""What an agent produces for one step, sent as record batches (``streams.record_batches``) by the
worker's one producer; the step's events are acknowledged only once it is delivered.

An agent collects its step's records in an :class:`Output`; :func:`deliver` builds one record
batch per topic partition (keys hashed as Kafka's default partitioner does) and returns once the
broker has them. An agent that acknowledges its own events hands each step to an
:class:`InOrderDelivery`, which delivers the steps in the order they were taken and acknowledges
each step's events after its output: offsets are never committed ahead of what the events
produced (at-least-once, as with ``send_soon``), yet the agent works on its next step while the
broker still has the last one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from crimelink.settings import get_settings
from streams.app import app
from streams.record_batches import MAX_RECORD_BYTES, BatchProducer, Output

__all__ = ["MAX_RECORD_BYTES", "BatchProducer", "InOrderDelivery", "Output", "deliver"]

_shared: BatchProducer | None = None


async def deliver(output: Output) -> None:
    """Send ``output`` with the worker's one producer (see :meth:`BatchProducer.deliver`)."""
    global _shared  # noqa: PLW0603 - one producer per worker process, made on first use
    if _shared is None:
        settings = get_settings()
        _shared = BatchProducer(settings.effective_kafka_bootstrap, f"{settings.app_id}-output")
    await _shared.deliver(output)


class InOrderDelivery:
    """Delivers an agent's steps in the order they were taken, each step's events acknowledged after its output,
    with up to ``depth`` steps on their way at once.

    Why: an agent that awaited each step's delivery before taking the next stood idle for the broker's
    round trip on every step; at 2,000 incidents/s the gate and the correlator spent about as long
    waiting as working. Steps in flight when the agent stops are neither delivered nor acknowledged,
    so a restarted worker reads them again. (A delivery only fails outright when it is cancelled: the
    producer retries a failed send until it goes through.)
    """

    def __init__(self, stream: Any, depth: int, send: Callable[[Output], Awaitable[None]] = deliver) -> None:
        self._stream = stream  # a stream whose acks are manual (``noack``, ``noack_take``)
        self._depth = depth
        self._send = send
        self._in_flight: deque[asyncio.Task[None]] = deque()

    async def submit(self, events: Sequence[Any], output: Output) -> None:
        """Deliver ``output`` after every step submitted before, then acknowledge ``events``. Waits while ``depth``
        steps are in flight; a step that failed raises here."""
        while len(self._in_flight) >= self._depth:
            await self._in_flight.popleft()
        previous = self._in_flight[-1] if self._in_flight else None
        self._in_flight.append(asyncio.ensure_future(self._deliver_after(previous, events, output)))
        while self._in_flight and self._in_flight[0].done():
            self._in_flight.popleft().result()

    def cancel(self) -> None:
        """Drop the steps in flight unacknowledged (the agent is stopping: they are read again after a restart)."""
        while self._in_flight:
            task = self._in_flight.popleft()
            if task.done() and not task.cancelled():
                task.exception()  # already reported, or the agent is stopping anyway: not "never retrieved"
            task.cancel()

    async def _deliver_after(self, previous: asyncio.Task[None] | None, events: Sequence[Any], output: Output) -> None:
        if previous is not None:
            try:
                await previous
            except Exception:  # noqa: BLE001 - that step raises it from submit; this one must neither send nor ack
                return
        await self._send(output)
        for event in events:
            await self._stream.ack(event)


@app.on_before_shutdown.connect
async def _stop_shared(sender: Any, **_: Any) -> None:
    global _shared  # noqa: PLW0603
    if _shared is not None:
        await _shared.stop()
        _shared = None
