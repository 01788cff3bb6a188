"""Map retailers' codes and wording to the controlled tactic and goods vocabularies.

The rules live in ``schemas/reference/*_rules.csv``; this module only applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from crimelink.schemas.reference import MappingRule, goods_rules, tactic_rules

__all__ = ["Vocabulary", "tactics", "goods"]


@dataclass(frozen=True)
class Vocabulary:
    """One controlled vocabulary with its code table and phrase matcher."""

    rules: tuple[MappingRule, ...]
    _codes: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False)
    _by_feed: dict[str, tuple[re.Pattern[str], dict[str, str]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_codes", _code_index(self.rules))
        object.__setattr__(self, "_by_feed", {})

    def _matcher(self, feed: str) -> tuple[re.Pattern[str], dict[str, str]]:
        matcher = self._by_feed.get(feed)
        if matcher is None:
            matcher = self._by_feed[feed] = (_phrase_pattern(self.rules, feed), _phrase_index(self.rules, feed))
        return matcher

    def from_code(self, feed: str, code: str) -> str | None:
        """The controlled code for a feed's own code, or None when no rule knows it."""
        key = code.strip().upper()
        return self._codes.get((feed, key)) or self._codes.get(("*", key))

    def from_text(self, feed: str, text: str) -> list[tuple[str, str]]:
        """Every (controlled code, matched phrase) found in free text, first occurrence order, no repeats.

        The phrases are matched in the lower-cased text, which is about four times faster than a
        case-insensitive match; the phrase returned is the text's own, as the retailer wrote it.
        """
        if not text:
            return []
        lowered = text.lower()
        if len(lowered) != len(text):  # a few characters lower-case to two: match the text itself, ignoring case
            return self._from_text_ignoring_case(feed, text)
        found: dict[str, str] = {}
        pattern, index = self._matcher(feed)
        for match in pattern.finditer(lowered):
            start, end = match.span()
            found.setdefault(index[match.group(0)], text[start:end])
        return list(found.items())

    def _from_text_ignoring_case(self, feed: str, text: str) -> list[tuple[str, str]]:
        found: dict[str, str] = {}
        _, index = self._matcher(feed)
        for match in _phrase_pattern(self.rules, feed, re.IGNORECASE).finditer(text):
            code = index.get(match.group(0).lower())
            if code is not None:
                found.setdefault(code, match.group(0))
        return list(found.items())


@lru_cache(maxsize=8)
def _code_index(rules: tuple[MappingRule, ...]) -> dict[tuple[str, str], str]:
    return {(rule.feed, rule.match.upper()): rule.code for rule in rules if rule.kind == "code"}


@lru_cache(maxsize=64)
def _phrase_index(rules: tuple[MappingRule, ...], feed: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for rule in rules:
        if rule.kind == "phrase" and rule.feed in ("*", feed):
            index.setdefault(rule.match.lower(), rule.code)
    return index


@lru_cache(maxsize=64)
def _phrase_pattern(rules: tuple[MappingRule, ...], feed: str, flags: int = 0) -> re.Pattern[str]:
    # The phrases are lower case (``_phrase_index``); longest first so "razor blades" wins over "razor".
    phrases = sorted(_phrase_index(rules, feed), key=len, reverse=True)
    alternatives = "|".join(re.escape(phrase) for phrase in phrases) or "(?!)"
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", flags)


@lru_cache(maxsize=1)
def tactics() -> Vocabulary:
    return Vocabulary(tactic_rules())


@lru_cache(maxsize=1)
def goods() -> Vocabulary:
    return Vocabulary(goods_rules())
