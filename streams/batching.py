"""How agents take events in batches without losing Faust's per-event bookkeeping.

Faust attributes a table write to the partition of the stream's *current* event. Inside a batch
from ``take_events`` that would be whichever event came last, so a write for an incident from
partition 0 could land in partition 1's changelog and be restored by the wrong worker. Agents that
write tables mark each event current while they handle it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from faust.types import EventT, StreamT

from crimelink.settings import get_settings

__all__ = ["event_batches", "handling"]


async def event_batches(stream: StreamT[Any]) -> AsyncIterator[Sequence[EventT]]:
    """Batches of at most ``batch_size`` events, or what arrived within ``batch_seconds``."""
    settings = get_settings()
    async for events in stream.take_events(settings.batch_size, within=settings.batch_seconds):
        yield events


def handling(stream: StreamT[Any], event: EventT) -> EventT:
    """Make ``event`` the stream's current event, so table writes made for it go to its partition."""
    stream._set_current_event(event)  # noqa: SLF001 - the hook Faust itself uses while iterating
    return event
