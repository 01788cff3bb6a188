"""Keys by deadline, so the expiry timer pops what is due instead of reading every entry it keeps.

Why: the crime-number gate keeps a held incident (about 2 KB of JSON) or a small marker per key, for up to
``CRIMELINK_EXPIRED_RETENTION_DAYS``; parsing every one of them on each expiry check cost about 20 µs a key, and
the check runs on the intake worker's event loop, between the incidents it gates.
"""

from __future__ import annotations

import heapq
from datetime import datetime

__all__ = ["DeadlineIndex"]


class DeadlineIndex:
    """Each key's latest deadline; a key leaves the index when it is reported due (the caller acts on it and sets
    a new deadline, or discards it)."""

    def __init__(self) -> None:
        self._deadlines: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []  # may hold superseded deadlines: skipped when popped

    def set(self, key: str, deadline: datetime) -> None:
        if self._deadlines.get(key) == deadline:
            return
        self._deadlines[key] = deadline
        heapq.heappush(self._heap, (deadline, key))

    def discard(self, key: str) -> None:
        self._deadlines.pop(key, None)

    def clear(self) -> None:
        self._deadlines.clear()
        self._heap.clear()

    def pop_due(self, now: datetime) -> list[str]:
        """Keys whose deadline is at or before ``now``, earliest first; they leave the index."""
        due = []
        while self._heap and self._heap[0][0] <= now:
            deadline, key = heapq.heappop(self._heap)
            if self._deadlines.get(key) == deadline:
                del self._deadlines[key]
                due.append(key)
        if len(self._heap) > 2 * len(self._deadlines) + 1024:  # mostly superseded entries: rebuild it
            self._heap = [(deadline, key) for key, deadline in self._deadlines.items()]
            heapq.heapify(self._heap)
        return due
