"""Writing the access log: each event goes to the audit topic, and the ClickHouse sink stores it in ``audit_log`` with
the other topics of record.

What a caller is shown is recorded first: :meth:`AuditTrail.record` returns once the broker has acknowledged the
event (``acks=all``), and when it cannot (the broker is unreachable for ``TIMEOUT_SECONDS``) it raises and nothing is
shown. Refusals (no token, a foreign Host, a missing CSRF token) are queued instead (:meth:`AuditTrail.later`) and sent
together every half second; past ``MAX_QUEUED`` waiting, the rest are counted and sent as one summary event.

Why a topic and not an insert per event: a small chDB insert costs about 15 ms of CPU, and a dashboard polling every
second made one per poll on the thread the sink writes through (the throughput benchmark lost 15% to its own
polling). Through the topic, the events of half a second are one insert in the sink's batch.
"""

from __future__ import annotations

import asyncio
import json
import logging

from crimelink.access.audit import AuditEvent, Category, Outcome
from crimelink.access.principals import ANONYMOUS
from crimelink.errors import AuditUnavailable
from crimelink.streams.engine.checkpoint import Output, Send

__all__ = ["AuditTrail", "FLUSH_SECONDS"]

log = logging.getLogger(__name__)
MAX_QUEUED = 10_000
FLUSH_SECONDS = 0.5
TIMEOUT_SECONDS = 10.0


class AuditTrail:
    def __init__(self, send: Send, topic: str) -> None:
        self._send = send
        self._topic = topic
        self._queued: list[AuditEvent] = []
        self.dropped = 0

    async def record(self, event: AuditEvent) -> None:
        """Send ``event`` and wait for the broker; raises :class:`~crimelink.errors.AuditUnavailable` when it could not
        be, and then the caller must not show what it was about to."""
        try:
            await asyncio.wait_for(self._deliver([event]), TIMEOUT_SECONDS)
        except Exception as error:  # noqa: BLE001 - whatever stopped it, nothing may be shown without its record
            raise AuditUnavailable(f"the access log could not be written ({error!r})") from error

    async def record_quietly(self, event: AuditEvent) -> None:
        """For an event after the fact (a webhook delivery): a failure is logged, loudly, and does not raise."""
        try:
            await self.record(event)
        except AuditUnavailable:
            log.exception("ACCESS LOG WRITE FAILED for %s %s by %r: %s", event.category, event.action,
                          event.principal.name, event.object[:200])

    def later(self, event: AuditEvent) -> None:
        """Queue a refusal for the next :meth:`flush`; never blocks."""
        if len(self._queued) >= MAX_QUEUED:
            self.dropped += 1
            return
        self._queued.append(event)

    async def flush(self) -> None:
        events, self._queued = self._queued, []
        if self.dropped:
            events.append(AuditEvent(Category.AUTHENTICATION, "refusals-not-itemised", ANONYMOUS, rows=self.dropped,
                                     outcome=Outcome.REFUSED,
                                     detail=f"{self.dropped} more refused requests while {MAX_QUEUED} waited"))
            self.dropped = 0
        if not events:
            return
        try:
            await asyncio.wait_for(self._deliver(events), TIMEOUT_SECONDS)
        except Exception:  # noqa: BLE001 - put back for the next flush; the log says why
            log.exception("access log: %d refusal(s) not sent yet; retrying", len(events))
            self._queued[:0] = events[:MAX_QUEUED]

    async def _deliver(self, events: list[AuditEvent]) -> None:
        output = Output()
        for event in events:
            output.add(self._topic, event.event_id.encode(), json.dumps(event.record()).encode())
        await self._send(output)
