"""The crime-number gate: decide an incident's referral eligibility from its crime reference."""

from __future__ import annotations

from crimelink import crime_numbers
from crimelink.crime_numbers import RuleTable
from schemas.incident import Incident

__all__ = ["apply_gate"]


def apply_gate(incident: Incident, rules: RuleTable | None = None) -> Incident:
    """The incident with its crime reference checked and its eligibility set."""
    reference = crime_numbers.check(incident.crime_reference.force_id, incident.crime_reference.raw, rules)
    eligibility, reason = crime_numbers.eligibility_for(reference)
    return incident.model_copy(
        update={"crime_reference": reference, "eligibility": eligibility, "eligibility_reason": reason}
    )
