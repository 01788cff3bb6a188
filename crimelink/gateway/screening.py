"""One record, screened as the worker will take it: the same adapter, normaliser and crime-number checks, plus the
one check only the gateway can make (the record is the caller's own retailer's). Plain code: no HTTP, no Kafka."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from crimelink.intake.edges import EventWindow
from crimelink.intake.feeds import adapter_for
from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.referral.crime_numbers import RuleTable
from crimelink.referral.gate import apply_gate
from crimelink.schemas.incident import Eligibility, Incident
from crimelink.schemas.outcomes import DeadLetter, Reason

__all__ = ["Screened", "Screen", "record_digest"]


@dataclass(frozen=True)
class Screened:
    """What the worker will make of one record, found before it is published."""

    payload: bytes
    digest: str
    incident: Incident | None = None
    """The canonical incident, with its crime number checked; None when the record is refused."""
    reasons: list[Reason] = field(default_factory=list)
    deadline: datetime | None = None
    """When a pending or invalid incident will expire unless a valid crime number comes."""

    @property
    def accepted(self) -> bool:
        return self.incident is not None


def record_digest(feed_format: str, payload: bytes) -> str:
    """The same for a record resent with its keys reordered or its spacing changed: JSON is compared as parsed."""
    canonical = payload
    if adapter_for(feed_format).encoding == "json":
        with contextlib.suppress(orjson.JSONDecodeError):
            canonical = orjson.dumps(orjson.loads(payload), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class Screen:
    def __init__(self, stores: StoreRegistry, window: EventWindow, pending_deadline: timedelta,
                 rules: RuleTable | None = None) -> None:
        self._normaliser = Normaliser(stores, window)
        self._deadline = pending_deadline
        self._rules = rules

    def record(self, feed_format: str, payload: bytes, retailers: tuple[str, ...], now: datetime) -> Screened:
        """Screen ``payload`` sent by a caller who may submit for ``retailers`` only."""
        digest = record_digest(feed_format, payload)
        adapter = adapter_for(feed_format)
        claimed, _ = adapter.identify(payload)
        if claimed is not None and claimed.strip().lower() not in retailers:
            return Screened(payload, digest, reasons=[_mismatch(feed_format, claimed, retailers)])
        # Where the record will be on its raw topic is not known yet: position 0 stands in for it.
        result = self._normaliser.normalise(RawRecord(feed_format, payload, "gateway", 0, 0, now))
        if isinstance(result, DeadLetter):
            return Screened(payload, digest, reasons=[r for r in result.reasons if r.problem != "payload-truncated"])
        if result.retailer not in retailers:
            return Screened(payload, digest, reasons=[_mismatch(feed_format, result.retailer, retailers)])
        checked = apply_gate(result, self._rules, now)
        deadline = now + self._deadline if checked.eligibility is not Eligibility.REFERABLE else None
        return Screened(payload, digest, incident=checked, deadline=deadline)


def _mismatch(feed_format: str, claimed: str, retailers: tuple[str, ...]) -> Reason:
    return Reason(field=adapter_for(feed_format).retailer_field, problem="retailer-mismatch", value=claimed[:200],
                  message=f"the record says it is {claimed[:64]!r}, but this token submits for {', '.join(retailers)} "
                          "only: a retailer submits its own incidents")
