"""Bounds a record must keep before it may become an incident: an event time in a plausible window, and text that is
valid Unicode without NUL. One record outside them once stopped part of the pipeline for everyone (a year-9999 event
time swept the correlator's window; a lone surrogate crashed serialising); now it is a dead letter with its reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from crimelink.schemas.outcomes import Reason
from crimelink.settings import IntakeSettings

__all__ = ["EventWindow", "MAX_RECORD_BYTES", "size_reasons", "text_reasons"]

MAX_RECORD_BYTES = 1_000_000
"""The largest raw record accepted: the broker takes about 1 MiB per message, and the incident made from a record, with
the record kept in a dead letter, must fit one too."""

_SURROGATE_OR_NUL_ESCAPE = re.compile(rb"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")
"""A JSON escape of a surrogate or of NUL."""


@dataclass(frozen=True)
class EventWindow:
    """When an incident may have happened: not before ``earliest``, not more than ``ahead`` past its receipt."""

    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    ahead: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, intake: IntakeSettings) -> EventWindow:
        return cls(datetime.combine(intake.earliest_event_date, time(), tzinfo=UTC),
                   timedelta(hours=intake.max_event_ahead_hours))

    def reasons(self, times: dict[str, datetime | None], received_at: datetime) -> list[Reason]:
        latest = received_at + self.ahead
        if all(moment is None or self.earliest <= moment <= latest for moment in times.values()):
            return []
        found = []
        for field, moment in times.items():
            if moment is None:
                continue
            if moment < self.earliest:
                found.append(Reason(field=field, problem="too-early", value=moment.isoformat(),
                                    message=f"the time is before {self.earliest.date()}: check the date's year "
                                            "(CRIMELINK_EARLIEST_EVENT_DATE)"))
            elif moment > latest:
                found.append(Reason(field=field, problem="in-the-future", value=moment.isoformat(),
                                    message=f"the time is more than {self.ahead.total_seconds() / 3600:g} h after the "
                                            f"record was received ({received_at.isoformat(timespec='seconds')}): "
                                            "check the date and the time zone (CRIMELINK_MAX_EVENT_AHEAD_HOURS)"))
        return found


def size_reasons(length: int) -> list[Reason]:
    """A record of ``length`` bytes over :data:`MAX_RECORD_BYTES`, refused before anything parses it."""
    if length <= MAX_RECORD_BYTES:
        return []
    return [Reason(field="$", problem="too-large", value=f"{length:,} bytes",
                   message=f"the record is {length:,} bytes; the limit is {MAX_RECORD_BYTES:,}: shorten its text or "
                           "split it")]


def text_reasons(payload: bytes) -> list[Reason]:
    """NUL bytes, and (in JSON) escaped NULs or surrogates that pair with nothing: the record's text must be valid
    Unicode. Cheap on the common path: the JSON is decoded again only when the bytes hold such an escape."""
    if b"\x00" not in payload and (b"\\u" not in payload or _SURROGATE_OR_NUL_ESCAPE.search(payload) is None):
        return []  # the common path: two substring scans
    if b"\x00" in payload:
        return [Reason(field="$", problem="nul-character", message="the record holds a NUL byte: remove it and resend")]
    try:
        document = json.loads(payload)
    except ValueError:
        return []  # not JSON: the adapter says what is wrong with it
    for path, text in _strings(document, "$"):
        if "\x00" in text:
            return [Reason(field=path, problem="nul-character", message="the text holds a NUL (\\u0000): remove it and "
                                                                        "resend")]
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return [Reason(field=path, problem="invalid-unicode", value=text.encode("utf-8", "backslashreplace")
                           .decode()[:200], message="the text holds a surrogate escape that pairs with nothing (such "
                                                    "as \\ud800): it is not a character; fix the encoder and resend")]
    return []


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    pending = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            pending.extend((child, f"{where}.{key}") for key, child in item.items())
            pending.extend((key, f"{where}.{key}") for key in item if isinstance(key, str))
        elif isinstance(item, list):
            pending.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
