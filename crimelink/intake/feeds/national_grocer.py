"""National grocer feed: nested JSON, ISO-8601 times with offsets, coded tactics and goods.

Example::

    {"schema": "ng-incident/2", "retailer": "northway",
     "incident": {"id": "NW-2025-000123", "revision": 1, "reported_at": "2025-03-01T10:22:00Z"},
     "store": {"id": "NW0042"},
     "occurred": {"from": "2025-03-01T09:40:00+00:00", "to": "2025-03-01T09:55:00+00:00"},
     "loss": {"lines": [{"category": "ALC", "description": "Whisky 70cl", "qty": 4, "unit_price_pence": 2500}]},
     "tactics": ["DST01", "TMS01"],
     "offenders": {"count": 2, "descriptions": [{"gender": "male", "build": "slim"}]},
     "vehicles": [{"vrm": "AB12 CDE", "make": "Ford", "model": "Focus", "colour": "Silver"}],
     "flags": {"violence": false, "threats": true, "weapon": false},
     "cctv": true,
     "police": {"crime_reference": "46/XX/012345/25"},
     "narrative": "Two males, one kept lookout ..."}
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crimelink.intake.feeds.base import (
    FeedAdapter,
    IncidentDraft,
    goods_line,
    parse_json,
    reject,
    tactics_from,
    vehicle,
)
from crimelink.schemas.incident import OffenderDescription

__all__ = ["ADAPTER", "NationalGrocerRecord"]

FEED = "national_grocer"


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class _IncidentHeader(_Raw):
    id: str = Field(min_length=1, max_length=128)
    revision: int = Field(1, ge=1)
    reported_at: datetime | None = None


class _StoreRef(_Raw):
    id: str = Field(min_length=1, max_length=32)


class _Occurred(_Raw):
    from_: datetime = Field(alias="from")
    to: datetime | None = None


class _LossLine(_Raw):
    category: str = Field(min_length=1)
    description: str = ""
    qty: int = Field(1, ge=0, le=100_000)
    unit_price_pence: int = Field(0, ge=0, le=10_000_000)


class _Loss(_Raw):
    lines: list[_LossLine] = Field(default_factory=list)


class _Description(_Raw):
    gender: str | None = None
    build: str | None = None
    complexion: str | None = None
    eye_colour: str | None = None
    ethnicity: str | None = None
    features: list[str] = Field(default_factory=list)


class _Offenders(_Raw):
    count: int = Field(0, ge=0, le=100)
    descriptions: list[_Description] = Field(default_factory=list)


class _Vehicle(_Raw):
    vrm: str | None = None
    make: str | None = None
    model: str | None = None
    colour: str | None = None


class _Flags(_Raw):
    violence: bool = False
    threats: bool = False
    weapon: bool = False


class _Police(_Raw):
    crime_reference: str | None = None
    force: str | None = None


class NationalGrocerRecord(_Raw):
    """The grocer's wire contract (schema ng-incident/2)."""

    schema_: Literal["ng-incident/2"] = Field(alias="schema")
    retailer: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    incident: _IncidentHeader
    store: _StoreRef
    occurred: _Occurred
    loss: _Loss = Field(default_factory=_Loss)
    tactics: list[str] = Field(default_factory=list)
    offenders: _Offenders = Field(default_factory=_Offenders)
    vehicles: list[_Vehicle] = Field(default_factory=list)
    flags: _Flags = Field(default_factory=_Flags)
    cctv: bool = False
    police: _Police = Field(default_factory=_Police)
    narrative: str = Field("", max_length=10_000)


class NationalGrocerAdapter(FeedAdapter):
    name = FEED
    description = "National grocer: nested JSON, ISO-8601 times with offsets, coded tactics and goods"
    example = (b'{"schema": "ng-incident/2", "retailer": "northway", "incident": {"id": "NW-2025-000123", "revision": 1, '
               b'"reported_at": "2025-03-01T10:22:00Z"}, "store": {"id": "NW0042"}, "occurred": {"from": '
               b'"2025-03-01T09:40:00+00:00", "to": "2025-03-01T09:55:00+00:00"}, "loss": {"lines": [{"category": '
               b'"ALC", "description": "Whisky 70cl", "qty": 4, "unit_price_pence": 2500}]}, "tactics": ["DST01", '
               b'"TMS01"], "offenders": {"count": 2, "descriptions": [{"gender": "male", "build": "slim"}]}, '
               b'"vehicles": [{"vrm": "AB12 CDE", "make": "Ford", "model": "Focus", "colour": "Silver"}], "flags": '
               b'{"violence": false, "threats": true, "weapon": false}, "cctv": true, "police": {"crime_reference": '
               b'"DY/012345/25"}, "narrative": "Two males, one kept lookout while the other filled a bag"}')

    def record_schema(self) -> dict[str, Any]:
        return NationalGrocerRecord.model_json_schema(by_alias=True)

    def parse(self, raw: bytes) -> IncidentDraft:
        record = parse_json(NationalGrocerRecord, raw)
        for field_name, value in (("occurred.from", record.occurred.from_), ("occurred.to", record.occurred.to)):
            if value is not None and value.tzinfo is None:
                raise reject(field_name, "missing-offset", "ISO-8601 time must carry a UTC offset", value.isoformat())
        if record.occurred.to is not None and record.occurred.to < record.occurred.from_:
            raise reject("occurred.to", "before-start", "the end of the time range is before its start",
                         record.occurred.to.isoformat())
        unmapped: list[str] = []
        goods = [goods_line(FEED, line.category, line.qty, line.qty * line.unit_price_pence, line.description, unmapped)
                 for line in record.loss.lines]
        tactics = tactics_from(FEED, record.tactics, record.narrative, unmapped)
        return IncidentDraft(
            retailer=record.retailer,
            incident_id=record.incident.id,
            revision=record.incident.revision,
            store_id=record.store.id,
            occurred_start=record.occurred.from_,
            occurred_end=record.occurred.to,
            source_local_time=record.occurred.from_.isoformat()
            + (f"/{record.occurred.to.isoformat()}" if record.occurred.to else ""),
            source_timezone="UTC-offset",
            goods=goods,
            tactics=tactics,
            unmapped_codes=unmapped,
            offender_count=max(record.offenders.count, len(record.offenders.descriptions)),
            offender_descriptions=[
                OffenderDescription(
                    gender=d.gender, build=d.build, complexion=d.complexion, eye_colour=d.eye_colour,
                    ethnicity=d.ethnicity, distinguishing_features=d.features,
                )
                for d in record.offenders.descriptions
            ],
            vehicles=[vehicle(v.vrm, v.make, v.model, v.colour) for v in record.vehicles if v.vrm or v.make],
            violence=record.flags.violence,
            threats=record.flags.threats,
            weapon=record.flags.weapon,
            cctv_available=record.cctv,
            crime_number=record.police.crime_reference,
            crime_number_force=record.police.force,
            narrative=record.narrative,
            reported_at=record.incident.reported_at,
        )

    def identify(self, raw: bytes) -> tuple[str | None, str | None]:
        try:
            document = json.loads(raw)
            retailer = document.get("retailer")
            incident_id = (document.get("incident") or {}).get("id")
            return (str(retailer) if retailer else None, str(incident_id) if incident_id else None)
        except Exception:  # noqa: BLE001 - identification is best effort on a record already refused
            return None, None


ADAPTER = NationalGrocerAdapter()
