"""The ordered commit: how a step of an agent becomes durable, in one place (as quix-streams' ``Checkpoint`` does).

For every step (one event, or one batch of raw records) an agent takes:

1. **Collect.** The step's output records and, inside :func:`~crimelink.streams.engine.changelog.changelog_into`,
   the changelog records of every table write it made, go into one :class:`Output` (nothing is sent yet).
2. **Produce.** :class:`InOrderDelivery` hands the output to the process's one :class:`Delivery` (an aiokafka
   producer sending record batches, ``acks=all``), after the output of every step taken before it.
3. **Acknowledged.** Once the broker has acknowledged all of it, and only then, the step's events are acknowledged
   to Faust (``stream.ack``). A failed send is retried whole; nothing is acknowledged meanwhile.
4. **Offsets committed.** Faust commits acknowledged offsets (``broker_commit_every``, ``broker_commit_interval``):
   never ahead of what a step produced. A worker killed anywhere in between reads the step again; what it sends
   twice is deduplicated downstream (ReplacingMergeTree tables, idempotent state writes).

The ClickHouse sink (``crimelink.streams.engine.topic_sink``) keeps the same order for its side: rows inserted,
then offsets committed.

Why an agent does not await each delivery itself: it stood idle for the broker's round trip on every step; at 2,000
incidents/s the gate and the correlator spent about as long waiting as working. So up to ``depth`` steps are on
their way at once, still delivered and acknowledged in the order they were taken.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from crimelink.streams.engine.record_batches import MAX_RECORD_BYTES, BatchProducer, Output
from crimelink.streams.kafka_auth import Broker

__all__ = ["MAX_RECORD_BYTES", "Delivery", "InOrderDelivery", "Output", "Send"]

Send = Callable[[Output], Awaitable[None]]
"""Delivers one step's output and returns once the broker has all of it."""


class Delivery:
    """The process's one producer for agents' output, started on first use and stopped with the app."""

    def __init__(self, bootstrap: Broker, client_id: str) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._producer: BatchProducer | None = None

    async def __call__(self, output: Output) -> None:
        """Send ``output`` (see :meth:`BatchProducer.deliver`: retried until the broker has it)."""
        if self._producer is None:
            self._producer = BatchProducer(self._bootstrap, self._client_id)
        await self._producer.deliver(output)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


class InOrderDelivery:
    """Delivers an agent's steps in the order they were taken, each step's events acknowledged after its output,
    with up to ``depth`` steps on their way at once (steps 2 and 3 of the module docstring).

    Steps in flight when the agent stops are neither delivered nor acknowledged, so a restarted worker reads them
    again. (A delivery only fails outright when it is cancelled: the producer retries a failed send until it goes
    through.)
    """

    def __init__(self, stream: Any, depth: int, send: Send) -> None:
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
