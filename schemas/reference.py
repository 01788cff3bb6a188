"""Reference data shipped as CSV under ``schemas/reference`` (operators extend the files, not the code)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = [
    "REFERENCE_DIR",
    "Force",
    "MappingRule",
    "forces",
    "regions",
    "tactic_codes",
    "goods_codes",
    "tactic_rules",
    "goods_rules",
    "read_csv",
]

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"


@dataclass(frozen=True, slots=True)
class Force:
    force_id: str
    name: str
    region_id: str


@dataclass(frozen=True, slots=True)
class MappingRule:
    """One row of a taxonomy rule file: a feed's code or a phrase, and the controlled code it means."""

    kind: str  # "code" or "phrase"
    feed: str  # a feed format name, or "*" for every feed
    match: str
    code: str


def read_csv(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a reference CSV; lines starting with ``#`` are comments."""
    with path.open(newline="", encoding="utf-8") as handle:
        lines = (line for line in handle if not line.startswith("#") and line.strip())
        for row in csv.DictReader(lines):
            yield {key.strip(): (value or "").strip() for key, value in row.items()}


@lru_cache(maxsize=1)
def regions() -> dict[str, str]:
    """region id -> display name."""
    return {row["region_id"]: row["name"] for row in read_csv(REFERENCE_DIR / "regions.csv")}


@lru_cache(maxsize=1)
def forces() -> dict[str, Force]:
    """force id (data.police.uk spelling) -> force, with the region that force belongs to."""
    known_regions = regions()
    table: dict[str, Force] = {}
    for row in read_csv(REFERENCE_DIR / "forces.csv"):
        if row["region_id"] not in known_regions:
            raise ValueError(f"forces.csv: {row['force_id']} names unknown region {row['region_id']!r}")
        table[row["force_id"]] = Force(row["force_id"], row["name"], row["region_id"])
    return table


@lru_cache(maxsize=1)
def tactic_codes() -> dict[str, str]:
    return {row["code"]: row["label"] for row in read_csv(REFERENCE_DIR / "tactics.csv")}


@lru_cache(maxsize=1)
def goods_codes() -> dict[str, str]:
    return {row["code"]: row["label"] for row in read_csv(REFERENCE_DIR / "goods.csv")}


def _rules(filename: str, valid_codes: dict[str, str]) -> tuple[MappingRule, ...]:
    rules = []
    for number, row in enumerate(read_csv(REFERENCE_DIR / filename), start=2):
        if row["kind"] not in ("code", "phrase"):
            raise ValueError(f"{filename} row {number}: kind must be 'code' or 'phrase', not {row['kind']!r}")
        if row["code"] not in valid_codes:
            raise ValueError(f"{filename} row {number}: unknown code {row['code']!r}")
        rules.append(MappingRule(row["kind"], row["feed"], row["match"], row["code"]))
    return tuple(rules)


@lru_cache(maxsize=1)
def tactic_rules() -> tuple[MappingRule, ...]:
    return _rules("tactic_rules.csv", tactic_codes())


@lru_cache(maxsize=1)
def goods_rules() -> tuple[MappingRule, ...]:
    return _rules("goods_rules.csv", goods_codes())
