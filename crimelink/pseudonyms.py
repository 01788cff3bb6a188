"""Keyed pseudonyms of vehicle registrations and offender descriptions, for the analysts' tables.

A pseudonym is HMAC-SHA256 under a secret key of what kind of value it is and the value as crimelink normalises it,
cut to 96 bits and written ``<kind letter>-<24 hex>``: the same value gives the same pseudonym in every row, so
analysts still count, join and search by it (``pseudonym('registration', 'KX19 TRV')`` in their SQL hashes what they
type), and nobody without the key can tell the value from it, nor try every registration. Without the key the
pseudonyms are useless: keep it with the database's backups, and know that a new key makes new pseudonyms (old rows
keep theirs). The clear values stay where the job needs them: the correlator's state, the evidence packages, and the
restricted ``incident_identities`` table.
"""

from __future__ import annotations

import hmac
import re
from functools import lru_cache
from typing import Any

__all__ = ["Pseudonymiser", "KINDS", "PSEUDONYM"]

KINDS = {"registration": "v", "descriptor": "d", "feature": "f", "description": "p"}
"""What can be pseudonymised, and the letter its pseudonyms start with."""

PSEUDONYM = re.compile(r"[vdfp]-[0-9a-f]{24}")
_DESCRIPTORS = ("gender", "build", "complexion", "eye_colour", "ethnicity")
_CALL = re.compile(r"\bpseudonym\(\s*'(\w+)'\s*,\s*'((?:[^'\\]|\\.|'')*)'\s*\)", re.IGNORECASE)


def _normalised(kind: str, value: str) -> str:
    if kind == "registration":
        return "".join(value.split()).upper()
    return " ".join(value.split()).lower()


class Pseudonymiser:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a pseudonym key needs at least 16 bytes")
        self._key = key
        # Descriptor values repeat endlessly ("build=slim"): each is hashed once (in this process's memory only, as
        # the rows being built are).
        self._cached = lru_cache(maxsize=65_536)(self._hash)

    def of(self, kind: str, value: str) -> str:
        """The pseudonym of ``value`` as a ``kind`` (one of :data:`KINDS`)."""
        return self._cached(kind, value)

    def _hash(self, kind: str, value: str) -> str:
        letter = KINDS[kind]
        digest = hmac.digest(self._key, f"{kind}\x1f{_normalised(kind, value)}".encode(), "sha256")
        return f"{letter}-{digest[:12].hex()}"

    def registration(self, value: str) -> str:
        return self.of("registration", value)

    def description(self, description: dict[str, Any]) -> dict[str, Any]:
        """An offender description as the analysts' tables keep it: each descriptor and each distinguishing feature a
        pseudonym of its own (``field=value``, so equal values of different fields differ), and the whole
        combination one more, so that a rare combination can be counted and searched as one."""
        kept: dict[str, Any] = {}
        for name in _DESCRIPTORS:
            value = description.get(name)
            kept[name] = self.of("descriptor", f"{name}={value}") if value else None
        features = sorted({" ".join(f.split()).lower() for f in description.get("distinguishing_features") or []})
        kept["distinguishing_features"] = [self.of("feature", feature) for feature in features]
        combination = "|".join(f"{name}={description.get(name) or ''}" for name in _DESCRIPTORS) + "|" + ",".join(features)
        kept["combination"] = self.of("description", combination)
        if "descriptor_count" in description:
            kept["descriptor_count"] = description["descriptor_count"]
        return kept

    def expand_sql(self, sql: str) -> str:
        """``sql`` with each ``pseudonym('<kind>', '<value>')`` replaced by the quoted pseudonym, so that an analyst
        searches by what they type (``WHERE has(vehicle_registrations, pseudonym('registration', 'KX19 TRV'))``)
        and the key never reaches the query. Raises ``ValueError`` for a kind that does not exist."""
        def replace(match: re.Match[str]) -> str:
            kind, value = match.group(1), match.group(2).replace("''", "'").replace("\\'", "'")
            if kind not in KINDS:
                raise ValueError(f"pseudonym() takes a kind of {', '.join(map(repr, KINDS))}, not {kind!r}")
            return f"'{self.of(kind, value)}'"

        return _CALL.sub(replace, sql)

    def feature_text(self, text: str) -> str:
        """``text`` with each distinguishing feature named in a link's explanation replaced by its pseudonym."""
        marker = "shared feature "
        if marker not in text:
            return text
        head, _, features = text.partition(marker)
        return head + marker + ", ".join(self.of("feature", feature) for feature in features.split(", "))
