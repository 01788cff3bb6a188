"""The canonical incident: what every retailer feed is normalised into.

Field descriptions are the documentation: ``crimelink schema`` writes them to
``schemas/incident.schema.json`` and docs/feeds.md links there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

__all__ = [
    "CrimeNumberSource",
    "SCHEMA_VERSION",
    "Eligibility",
    "CrimeNumberStatus",
    "Store",
    "Occurrence",
    "GoodsLine",
    "Tactic",
    "OffenderDescription",
    "Offenders",
    "Vehicle",
    "CrimeReference",
    "SourcePosition",
    "Incident",
    "IncidentBatch",
]

SCHEMA_VERSION = 1


MAX_REVISION = 2**24 - 1
"""The stored row's version is ``revision << 40`` plus a time in milliseconds, in a UInt64: a revision of 2^24 or more
does not fit, and once made the sink retry that row for ever."""


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime must carry a time zone")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]


class _Model(BaseModel):
    # extra="ignore": computed fields (totals, counts) are in the JSON on topics and must read back.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Eligibility(StrEnum):
    """Whether an incident may be referred to the national unit as evidence."""

    REFERABLE = "referable"
    PENDING = "pending"
    INVALID = "invalid"
    EXPIRED = "expired"


class CrimeNumberStatus(StrEnum):
    UNCHECKED = "unchecked"  # between the normaliser and the crime-number gate only
    VALID = "valid"
    INVALID = "invalid"
    INCIDENT_NUMBER = "incident_number"
    MISSING = "missing"


class CrimeNumberSource(StrEnum):
    """Where an incident's crime number came from: the record that reported it, a later update from the retailer, or
    a force's liaison officer who entered it for the force that issued it."""

    REPORT = "retailer-report"
    UPDATE = "retailer-update"
    FORCE = "force"


class Store(_Model):
    store_id: str = Field(description="The retailer's own store id.")
    name: str = Field("", description="Store name as the retailer's registry gives it.")
    postcode: str | None = Field(None, description="Store postcode, upper case with one space.")
    latitude: float | None = Field(None, ge=49.0, le=61.5, description="WGS84 latitude of the store.")
    longitude: float | None = Field(None, ge=-8.7, le=2.0, description="WGS84 longitude of the store.")
    force_id: str = Field(description="Police force area of the store (data.police.uk force id).")
    region_id: str = Field(description="Regional organised crime unit covering that force.")


class Occurrence(_Model):
    start: UtcDatetime = Field(description="When the offence happened, or the start of the range, in UTC.")
    end: UtcDatetime | None = Field(None, description="End of the range in UTC; null for a point in time.")
    source_local_time: str = Field(description="The time exactly as the feed gave it, before conversion.")
    source_timezone: str = Field("Europe/London", description="Time zone the feed's local times are in.")


class GoodsLine(_Model):
    category: str = Field(description="Controlled goods category code (schemas/reference/goods.csv).")
    description: str = Field("", description="The retailer's own wording or code, kept verbatim.")
    quantity: int = Field(1, ge=0, le=100_000, description="Units taken.")
    value_pence: int = Field(0, ge=0, le=100_000_000, description="Retail value of the line in pence.")


class Tactic(_Model):
    code: str = Field(description="Controlled tactic code (schemas/reference/tactics.csv).")
    source_text: str = Field(description="The retailer's code or phrase that mapped to it.")


class OffenderDescription(_Model):
    """NPCC minimum descriptors only; nothing beyond them is collected."""

    gender: str | None = Field(None, description="As observed: male, female or unknown.")
    build: str | None = Field(None, description="slim, medium, heavy, muscular or unknown.")
    complexion: str | None = Field(None, description="Complexion as observed.")
    eye_colour: str | None = Field(None, description="Eye colour as observed.")
    ethnicity: str | None = Field(None, description="Observed ethnic appearance (IC code or wording).")
    distinguishing_features: list[str] = Field(
        default_factory=list, max_length=20, description="Tattoos, scars, clothing logos and the like."
    )

    @computed_field(description="How many NPCC descriptors are filled in (at least 4 for an unknown suspect).")
    def descriptor_count(self) -> int:
        fields = [self.gender, self.build, self.complexion, self.eye_colour, self.ethnicity]
        return sum(1 for value in fields if value) + (1 if self.distinguishing_features else 0)


class Offenders(_Model):
    count: int = Field(0, ge=0, le=100, description="Number of offenders seen; 0 when not known.")
    descriptions: list[OffenderDescription] = Field(default_factory=list, max_length=100,
                                                    description="One per described offender.")


class Vehicle(_Model):
    registration: str | None = Field(None, description="Normalised UK registration (upper case, no spaces).")
    registration_raw: str | None = Field(None, description="Registration exactly as reported.")
    registration_valid: bool = Field(False, description="Whether the registration fits a UK format.")
    make: str | None = Field(None, description="Vehicle make, title case.")
    model: str | None = Field(None, description="Vehicle model.")
    colour: str | None = Field(None, description="Vehicle colour, lower case.")


class CrimeReference(_Model):
    force_id: str = Field(description="Force that issued (or should issue) the crime number.")
    raw: str | None = Field(None, description="The reference exactly as the retailer sent it.")
    normalised: str | None = Field(None, description="The reference in the force's canonical form, if valid.")
    status: CrimeNumberStatus = Field(description="valid, invalid, incident_number, missing (unchecked before the gate).")
    reason: str = Field("", description="Why the reference has that status, in words a retailer can act on.")
    source: CrimeNumberSource = Field(CrimeNumberSource.REPORT, description="Where the crime number came from.")
    via: str = Field("", description="The message that carried it (topic/partition/offset) and, for an update, who sent "
                                     "it (its Kafka channel's owner, crimelink's own login for the gateway's, or the "
                                     "force user who entered it); empty: the incident's own record.")


class SourcePosition(_Model):
    topic: str = Field(description="Raw topic the record was read from.")
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class Incident(_Model):
    """One retailer-reported incident in canonical form."""

    schema_version: int = Field(SCHEMA_VERSION, description="Version of this model.")
    retailer: str = Field(min_length=1, max_length=64, description="Retailer id (lower-case slug).")
    incident_id: str = Field(min_length=1, max_length=128, description="The retailer's own incident id.")
    revision: int = Field(1, ge=1, le=MAX_REVISION,
                          description="Retailer's revision; a higher revision supersedes a lower one.")
    feed_format: str = Field(description="Feed format (adapter) the record arrived in.")
    store: Store
    occurred: Occurrence
    offence_code: str = Field("046/00", description="Home Office offence code; 046/00 is theft from shops.")
    # Bounded so every sum the store keeps fits its column (goods_quantity UInt32, total_value_pence UInt64).
    goods: list[GoodsLine] = Field(default_factory=list, max_length=500, description="What was taken.")
    tactics: list[Tactic] = Field(default_factory=list, max_length=50,
                                  description="Methods used, from the controlled taxonomy.")
    offenders: Offenders = Field(default_factory=Offenders)
    vehicles: list[Vehicle] = Field(default_factory=list, max_length=20)
    violence: bool = Field(False, description="Violence was used against staff or customers.")
    threats: bool = Field(False, description="Threats or abuse were made.")
    weapon: bool = Field(False, description="A weapon was seen or implied.")
    cctv_available: bool = Field(False, description="The retailer holds CCTV of the incident.")
    crime_reference: CrimeReference = Field(description="Police crime number and its check result.")
    eligibility: Eligibility = Field(Eligibility.PENDING, description="referable, pending, invalid or expired.")
    eligibility_reason: str = Field("", description="Why the incident has that eligibility.")
    status_changed_at: UtcDatetime | None = Field(
        None, description="When the crime-number gate last set the eligibility (orders same-revision updates)."
    )
    pending_deadline: UtcDatetime | None = Field(
        None, description="For a pending or invalid incident: when it expires without a valid crime number."
    )
    narrative: str = Field("", max_length=10_000, description="Free-text account (MO) as the retailer wrote it.")
    unmapped_codes: list[str] = Field(
        default_factory=list,
        description="Feed codes no rule maps yet ('tactic:X', 'goods:Y'); extend the rules files to map them.",
    )
    reported_at: UtcDatetime | None = Field(None, description="When the retailer says it reported the incident.")
    received_at: UtcDatetime = Field(description="When crimelink read the raw record.")
    source: SourcePosition | None = Field(None, description="Where the raw record sits in Kafka.")

    @computed_field(description="Sum of the goods lines' values, in pence.")
    def total_value_pence(self) -> int:
        return sum(line.value_pence for line in self.goods)

    @property
    def key(self) -> str:
        """Kafka key: keeps every revision of one incident on one partition, in order."""
        return f"{self.retailer}:{self.incident_id}"


class IncidentBatch(BaseModel):
    """What the normaliser sends the gate: one message per batch and partition (see ``crimelink.streams.engine.envelopes``)."""

    incidents: list[Incident]
