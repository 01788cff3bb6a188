"""What the gateway answered, so a resend gets the same answer and is not published twice.

Every answer is also written to a compacted topic (``<prefix>gateway.answers``) that every gateway process reads from
the start when it starts and follows while it runs: a resend that reaches another gateway behind the load balancer,
or this one after a restart, is recognised too. Kept for ``CRIMELINK_GATEWAY_RESEND_DAYS``.

Three kinds of entry, each keyed by what makes a request the same:

- a record: (retailer, incident id, revision) -> the record's digest and its answer;
- a crime number: (retailer, incident id, normalised crime number) -> its answer;
- a request: (retailer, ``Idempotency-Key``) -> the request body's digest, the status and the body answered.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["AnswerBook", "Entry", "record_key", "crime_number_key", "request_key"]


def record_key(retailer: str, incident_id: str, revision: int) -> bytes:
    return json.dumps(["record", retailer, incident_id, revision]).encode()


def crime_number_key(retailer: str, incident_id: str, crime_number: str) -> bytes:
    return json.dumps(["crime-number", retailer, incident_id, crime_number]).encode()


def request_key(retailer: str, idempotency_key: str) -> bytes:
    return json.dumps(["request", retailer, idempotency_key]).encode()


@dataclass(frozen=True, slots=True)
class Entry:
    digest: str
    """What was sent, hashed: the same key with another digest is a different record (or request)."""
    answer: dict[str, Any]
    at: float
    """When it was answered (seconds since the epoch)."""

    def encoded(self) -> bytes:
        return json.dumps({"digest": self.digest, "answer": self.answer, "at": self.at},
                          separators=(",", ":")).encode()


class AnswerBook:
    """The entries of the last ``keep_seconds``, by key; safe across threads. Also knows, per (retailer, incident),
    the last accepted revision's answer (for crime numbers and status of incidents the store has not seen yet)."""

    def __init__(self, keep_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self._keep = keep_seconds
        self._clock = clock
        self._entries: dict[bytes, bytes] = {}  # encoded values: a third of the memory of parsed ones
        self._incidents: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()
        self._swept = clock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> Entry | None:
        with self._lock:
            value = self._entries.get(key)
        entry = _decode(value) if value is not None else None
        if entry is None or entry.at < self._clock() - self._keep:
            return None
        return entry

    def incident(self, retailer: str, incident_id: str) -> Entry | None:
        """The answer to the latest revision of an incident accepted here."""
        with self._lock:
            value = self._incidents.get((retailer, incident_id))
        entry = _decode(value) if value is not None else None
        if entry is None or entry.at < self._clock() - self._keep:
            return None
        return entry

    def put(self, key: bytes, entry: Entry) -> bytes:
        """Remember ``entry``; returns its encoding, for the answers topic."""
        value = entry.encoded()
        self.load(key, value)
        return value

    def load(self, key: bytes, value: bytes | None) -> None:
        """An entry read from the answers topic (None: a tombstone)."""
        with self._lock:
            if value is None:
                self._entries.pop(key, None)
                return
            self._entries[key] = value
            try:
                kind, retailer, incident_id, *rest = json.loads(key)
            except (ValueError, TypeError):
                return
            if kind == "record":
                known = self._incidents.get((retailer, incident_id))
                if known is None or _revision(known) <= _revision(value):
                    self._incidents[(retailer, incident_id)] = value
        if self._clock() - self._swept > 600:
            self._sweep()

    def _sweep(self) -> None:
        oldest = self._clock() - self._keep
        with self._lock:
            self._swept = self._clock()
            for table in (self._entries, self._incidents):
                for key in [key for key, value in table.items() if (_decode(value) or _EMPTY).at < oldest]:
                    del table[key]


_EMPTY = Entry("", {}, 0.0)


def _decode(value: bytes) -> Entry | None:
    try:
        document = json.loads(value)
        return Entry(str(document["digest"]), dict(document["answer"]), float(document["at"]))
    except (ValueError, TypeError, KeyError):
        return None


def _revision(value: bytes) -> int:
    entry = _decode(value)
    revision = entry.answer.get("revision") if entry else None
    return revision if isinstance(revision, int) else 0
