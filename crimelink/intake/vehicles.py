"""UK vehicle registration marks: normalise spacing and case, repair 0/O and 1/I only when unambiguous."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Registration", "normalise_registration"]

# Great Britain formats (DVLA) and Northern Ireland.
_FORMATS: dict[str, re.Pattern[str]] = {
    "current": re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z]{3}$"),  # AB12 CDE (2001-)
    "prefix": re.compile(r"^[A-Z][0-9]{1,3}[A-Z]{3}$"),  # A123 BCD (1983-2001)
    "suffix": re.compile(r"^[A-Z]{3}[0-9]{1,3}[A-Z]$"),  # ABC 123D (1963-1983)
    "dateless": re.compile(r"^(?:[A-Z]{1,3}[0-9]{1,4}|[0-9]{1,4}[A-Z]{1,3})$"),
    "northern_ireland": re.compile(r"^[A-Z]{1,3}[0-9]{1,4}$|^[A-Z]{3}Z[0-9]{1,4}$"),
}
# The current format has a fixed letter/digit shape, the only one where a 0/O or 1/I slip can be undone.
_CURRENT_SHAPE = "LLDDLLL"
_TO_LETTER = {"0": "O", "1": "I"}
_TO_DIGIT = {"O": "0", "I": "1"}


@dataclass(frozen=True, slots=True)
class Registration:
    raw: str
    normalised: str | None
    valid: bool
    format: str | None
    repaired: bool = False


def _matches(candidate: str) -> str | None:
    for name, pattern in _FORMATS.items():
        if pattern.match(candidate):
            return name
    return None


def _repair_current(candidate: str) -> str | None:
    if len(candidate) != len(_CURRENT_SHAPE):
        return None
    chars = []
    for char, kind in zip(candidate, _CURRENT_SHAPE, strict=True):
        if kind == "L" and char in _TO_LETTER:
            char = _TO_LETTER[char]
        elif kind == "D" and char in _TO_DIGIT:
            char = _TO_DIGIT[char]
        chars.append(char)
    repaired = "".join(chars)
    return repaired if _FORMATS["current"].match(repaired) else None


def normalise_registration(raw: str | None) -> Registration | None:
    """None for no registration; otherwise the normalised mark and whether it is a valid UK format.

    A 7-character mark that fits no format but fits the current format once 0/O and 1/I are
    swapped in the positions that must be letters or digits is repaired; anything else is left
    as given and flagged invalid.
    """
    if raw is None or not raw.strip():
        return None
    candidate = re.sub(r"[\s\-.]", "", raw).upper()
    found = _matches(candidate)
    if found:
        return Registration(raw, candidate, True, found)
    repaired = _repair_current(candidate)
    if repaired:
        return Registration(raw, repaired, True, "current", repaired=True)
    cleaned = candidate if candidate.isalnum() else None
    return Registration(raw, cleaned, False, None)
