"""Convenience chain feed: flat JSON, UK local dates and times, pounds as strings, free-text MO.

Example::

    {"chain": "quikmart", "ref": "QM-88812", "rev": "2", "shop": "QM0014",
     "incident_date": "01/03/2025", "incident_time": "18:45", "end_time": "18:52",
     "value_gbp": "£123.40", "items": "4x razor blades; 2 bottles of vodka",
     "mo": "Male hid razors under his coat and ran out to a waiting car",
     "offenders": "2", "offender_desc": "male, slim, pale, blue eyes, grey hoodie",
     "vehicle_reg": "AB12 CDE", "vehicle": "silver ford focus",
     "violence": "N", "threats": "N", "weapon": "N", "cctv": "Y",
     "crime_no": "SX/12345678/25", "force": ""}

Tactics come from the MO text and goods categories from the item wording (rules in
``schemas/reference``); the value is for the whole incident and is shared across the items
by quantity.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crimelink.intake.feeds._text import (
    description_from_text,
    goods_from_text,
    local_datetime,
    pounds_to_pence,
    vehicle_parts,
    yes_no,
)
from crimelink.intake.feeds.base import FeedAdapter, IncidentDraft, Problems, parse_json, tactics_from, vehicle

__all__ = ["ADAPTER", "ConvenienceRecord"]

FEED = "convenience_flat"
Scalar = str | int | float | bool | None
_TEXT_OR_NUMBER = ("incident_time", "end_time", "value_gbp", "items", "mo", "offender_desc", "vehicle_reg", "vehicle",
                   "ref", "shop")
"""Text fields the chain may send as numbers or null."""
_COUNT_OR_TEXT = ("offenders", "rev")
"""Whole numbers the chain may send as text (blank: the default)."""


class ConvenienceRecord(BaseModel):
    """The chain's wire contract: every value may arrive as a string."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    chain: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    ref: str = Field(min_length=1, max_length=128)
    rev: int = Field(1, ge=1)
    shop: str = Field(min_length=1, max_length=32)
    incident_date: str = Field(min_length=1)
    incident_time: str = ""
    end_time: str = ""
    value_gbp: str = "0"
    items: str = ""
    mo: str = Field("", max_length=10_000)
    offenders: int = Field(0, ge=0, le=100)
    offender_desc: str = ""
    vehicle_reg: str = ""
    vehicle: str = ""
    violence: Scalar = None
    threats: Scalar = None
    weapon: Scalar = None
    cctv: Scalar = None
    crime_no: str | None = None
    force: str | None = None

    @field_validator(*_TEXT_OR_NUMBER, mode="before")
    @classmethod
    def _as_text(cls, value: Scalar) -> Scalar:
        """Chains send numbers and nulls where text is expected: '45' and 45 mean the same, null means blank."""
        if value is None:
            return ""
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator(*_COUNT_OR_TEXT, mode="before")
    @classmethod
    def _blank_is_default(cls, value: Scalar) -> Scalar:
        return None if value == "" else value


class ConvenienceFlatAdapter(FeedAdapter):
    name = FEED
    retailer_field = "chain"
    description = "Convenience chain: flat JSON, UK local times, pounds as strings, free-text MO and items"
    example = (b'{"chain": "quikmart", "ref": "QM-88812", "rev": "2", "shop": "QM0014", "incident_date": "01/03/2025", '
               b'"incident_time": "18:45", "end_time": "18:52", "value_gbp": "\xc2\xa3123.40", "items": "4x razor blades; '
               b'2 bottles of vodka", "mo": "Male hid razors under his coat and ran out to a waiting car", "offenders": '
               b'"2", "offender_desc": "male, slim, pale, blue eyes, grey hoodie", "vehicle_reg": "AB12 CDE", "vehicle": '
               b'"silver ford focus", "violence": "N", "threats": "N", "weapon": "N", "cctv": "Y", "crime_no": '
               b'"HT/12345678/25", "force": ""}')

    def record_schema(self) -> dict[str, Any]:
        """The contract's schema, widened where the chain's values may arrive as numbers, strings or null (what
        ``ConvenienceRecord``'s validators take)."""
        schema = ConvenienceRecord.model_json_schema(by_alias=True)
        properties = schema["properties"]
        for name in _TEXT_OR_NUMBER:
            text = {key: value for key, value in properties[name].items() if key not in ("title", "default")}
            blank = [] if name in schema["required"] else [{"type": "null"}]  # null is blank text, never a required one
            widened = {"title": properties[name]["title"], "anyOf": [text, {"type": "number"}, *blank]}
            properties[name] = widened | ({"default": properties[name]["default"]} if "default" in properties[name]
                                          else {})
        for name in _COUNT_OR_TEXT:
            count = {key: value for key, value in properties[name].items() if key not in ("title", "default")}
            properties[name] = {"title": properties[name]["title"], "default": properties[name]["default"],
                                "anyOf": [count, {"type": "string", "pattern": r"^\s*\d*\s*$"}]}
        return schema

    def parse(self, raw: bytes) -> IncidentDraft:
        record = parse_json(ConvenienceRecord, raw)
        problems = Problems()
        start = problems.attempt(
            lambda: local_datetime(record.incident_date, record.incident_time, "incident_time", day_field="incident_date"))
        end: datetime | None = None
        if record.end_time and start is not None:
            end = problems.attempt(lambda: local_datetime(record.incident_date, record.end_time, "end_time"))
        value = problems.attempt(lambda: pounds_to_pence(record.value_gbp, "value_gbp"))
        flags = {name: problems.attempt(lambda name=name: yes_no(getattr(record, name), name))  # type: ignore[misc]
                 for name in ("violence", "threats", "weapon", "cctv")}
        if start is not None and end is not None and end < start:
            problems.add("end_time", "before-start", "end time is before the start time", record.end_time)
        problems.raise_if_any()
        assert start is not None and value is not None
        description = description_from_text(record.offender_desc)
        make, model, colour = vehicle_parts(record.vehicle)
        vehicles = [vehicle(record.vehicle_reg or None, make, model, colour)] if record.vehicle_reg or record.vehicle else []
        return IncidentDraft(
            retailer=record.chain,
            incident_id=record.ref,
            revision=record.rev,
            store_id=record.shop,
            occurred_start=start,
            occurred_end=end,
            source_local_time=" ".join(filter(None, [record.incident_date, record.incident_time, record.end_time])),
            source_timezone="Europe/London",
            goods=goods_from_text(FEED, record.items, value),
            tactics=tactics_from(FEED, [], record.mo),
            offender_count=max(record.offenders, 1 if description else 0),
            offender_descriptions=[description] if description else [],
            vehicles=vehicles,
            violence=bool(flags["violence"]),
            threats=bool(flags["threats"]),
            weapon=bool(flags["weapon"]),
            cctv_available=bool(flags["cctv"]),
            crime_number=record.crime_no or None,
            crime_number_force=record.force or None,
            narrative=record.mo,
        )

    def identify(self, raw: bytes) -> tuple[str | None, str | None]:
        try:
            document = json.loads(raw)
            return (str(document["chain"]) if document.get("chain") else None,
                    str(document["ref"]) if document.get("ref") else None)
        except Exception:  # noqa: BLE001 - best effort on a record already refused
            return None, None


ADAPTER = ConvenienceFlatAdapter()
