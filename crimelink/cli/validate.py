"""``crimelink validate``: check a sample feed offline, record by record, before a retailer goes live."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from crimelink.intake.edges import EventWindow
from crimelink.intake.files import read_feed_file
from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.referral.gate import apply_gate
from crimelink.schemas.incident import Incident
from crimelink.schemas.outcomes import DeadLetter

__all__ = ["Verdict", "validate_file"]


@dataclass(frozen=True)
class Verdict:
    line: int
    outcome: Incident | DeadLetter

    @property
    def accepted(self) -> bool:
        return isinstance(self.outcome, Incident)


def validate_file(path: Path, feed_format: str, registry: StoreRegistry,
                  window: EventWindow | None = None) -> tuple[list[Verdict], Counter[str]]:
    """Every record's outcome (the same code the worker runs) and a tally by outcome."""
    normaliser = Normaliser(registry, window)
    verdicts = []
    tally: Counter[str] = Counter()
    now = datetime.now(UTC)
    for record in read_feed_file(path, feed_format):
        if record.problem is not None:  # unreadable as a record: what the worker's dead letter would say
            outcome: Incident | DeadLetter = DeadLetter.from_raw(
                record.payload, [record.problem], feed_format=feed_format, topic=str(path), partition=0,
                offset=record.line, received_at=now)
            tally["rejected"] += 1
            verdicts.append(Verdict(record.line, outcome))
            continue
        outcome = normaliser.normalise(RawRecord(feed_format, record.payload, str(path), 0, record.line, now))
        if isinstance(outcome, Incident):
            outcome = apply_gate(outcome)
            tally[outcome.eligibility.value] += 1
        else:
            tally["rejected"] += 1
        verdicts.append(Verdict(record.line, outcome))
    return verdicts, tally
