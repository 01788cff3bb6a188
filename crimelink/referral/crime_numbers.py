"""Check a police crime reference against the issuing force's rules.

Rules come from ``schemas/reference/crime_number_rules.csv``; the generic rule covers forces
without their own row. Knows nothing about Kafka: the gate agent calls :func:`check`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from crimelink.schemas.incident import CrimeNumberStatus, CrimeReference, Eligibility
from crimelink.schemas.reference import REFERENCE_DIR

__all__ = ["Rule", "RuleTable", "normalise", "check", "eligibility_for"]

_SEPARATORS = re.compile(r"[-\\.]")


@dataclass(frozen=True, slots=True)
class Rule:
    force_id: str
    kind: str  # "crime" or "incident"
    pattern: re.Pattern[str]
    description: str


class RuleTable:
    def __init__(self, rules: list[Rule]) -> None:
        self._by_force: dict[str, list[Rule]] = {}
        for rule in rules:
            self._by_force.setdefault(rule.force_id, []).append(rule)

    @classmethod
    def load(cls, path: Path = REFERENCE_DIR / "crime_number_rules.csv") -> RuleTable:
        rules = []
        with path.open(newline="", encoding="utf-8") as handle:
            lines = (line for line in handle if line.strip() and not line.startswith("#"))
            for number, row in enumerate(csv.DictReader(lines), start=2):
                row = {key: value.strip() for key, value in row.items()}
                if row["kind"] not in ("crime", "incident"):
                    raise ValueError(f"{path.name} row {number}: kind must be crime or incident")
                try:
                    pattern = re.compile(row["pattern"])
                except re.error as error:
                    raise ValueError(f"{path.name} row {number}: bad pattern {row['pattern']!r}: {error}") from error
                rules.append(Rule(row["force_id"], row["kind"], pattern, row["description"]))
        return cls(rules)

    def rules_for(self, force_id: str) -> list[Rule]:
        """The force's own rules and the every-force rules; the default rules when it has no crime rule."""
        own = [*self._by_force.get(force_id, []), *self._by_force.get("*", [])]
        if not any(rule.kind == "crime" and rule.force_id == force_id for rule in own):
            own += self._by_force.get("default", [])
        return own

    def has_own_rules(self, force_id: str) -> bool:
        return force_id in self._by_force


@lru_cache(maxsize=1)
def default_rules() -> RuleTable:
    return RuleTable.load()


def normalise(raw: str) -> str:
    return _SEPARATORS.sub("/", re.sub(r"\s+", "", raw.upper()))


def check(force_id: str, raw: str | None, rules: RuleTable | None = None) -> CrimeReference:
    """Classify a reference: valid for the force, an incident number, invalid (with why), or missing."""
    if raw is None or not raw.strip():
        return CrimeReference(force_id=force_id, raw=raw, status=CrimeNumberStatus.MISSING,
                              reason="no crime number given; send it when the force issues one")
    rules = rules or default_rules()
    value = normalise(raw)
    applicable = rules.rules_for(force_id)
    for rule in applicable:
        if rule.kind == "incident" and rule.pattern.fullmatch(value):
            return CrimeReference(
                force_id=force_id, raw=raw, status=CrimeNumberStatus.INCIDENT_NUMBER,
                reason=f"{raw.strip()!r} looks like an incident or log number ({rule.description}), "
                "not a crime number; send the crime number when the force issues it",
            )
    candidates = [rule for rule in applicable if rule.kind == "crime"]
    for rule in candidates:
        if rule.pattern.fullmatch(value):
            return CrimeReference(force_id=force_id, raw=raw, normalised=value,
                                  status=CrimeNumberStatus.VALID, reason=rule.description)
    expected = "; ".join(rule.description for rule in candidates) or "no rule accepts it"
    return CrimeReference(force_id=force_id, raw=raw, status=CrimeNumberStatus.INVALID,
                          reason=f"{raw.strip()!r} is not a valid {force_id} crime number (expected: {expected})")


def eligibility_for(reference: CrimeReference) -> tuple[Eligibility, str]:
    """Referral eligibility that follows from the crime reference alone."""
    if reference.status is CrimeNumberStatus.VALID:
        return Eligibility.REFERABLE, "valid crime number"
    if reference.status is CrimeNumberStatus.INVALID:
        return Eligibility.INVALID, reference.reason
    return Eligibility.PENDING, reference.reason
