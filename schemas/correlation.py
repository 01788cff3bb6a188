"""Contracts of the correlation stage: the compact case it keeps per incident, links, series and alerts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter

from crimelink.schemas.incident import Incident, UtcDatetime

__all__ = ["CaseDescription", "CaseVehicle", "Case", "CorrelateCases", "SweepWindow", "EraseCase", "CorrelationCommand",
           "correlation_commands", "LinkEvidence", "Link", "Series", "Alert"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CaseDescription(_Model):
    gender: str | None = None
    build: str | None = None
    complexion: str | None = None
    eye_colour: str | None = None
    ethnicity: str | None = None
    features: list[str] = Field(default_factory=list)


class CaseVehicle(_Model):
    registration: str | None = None
    valid: bool = False
    make: str | None = None
    model: str | None = None
    colour: str | None = None


class Case(_Model):
    """What correlation keeps of an incident while it is inside the window: enough to link and to evidence."""

    key: str
    retailer: str
    incident_id: str
    revision: int
    store_name: str
    force_id: str
    region_id: str
    latitude: float | None = None
    longitude: float | None = None
    start: UtcDatetime
    received_at: UtcDatetime | None = None  # when crimelink read it: bounds how far this case moves event time
    tactics: list[str] = Field(default_factory=list)
    goods: list[str] = Field(default_factory=list)
    value_pence: int = 0
    offender_count: int = 0
    descriptions: list[CaseDescription] = Field(default_factory=list)
    vehicles: list[CaseVehicle] = Field(default_factory=list)
    crime_number: str | None = None
    crime_number_source: str = ""  # retailer-report, retailer-update or force (crimelink.schemas.incident.CrimeNumberSource)
    crime_number_via: str = ""  # the update's message and sender, when it came in one
    eligibility: str
    eligibility_reason: str = ""
    # Scoring's precomputed view of this case (sets and tuples), built once, when the case is indexed or first scored.
    _profile: Any = PrivateAttr(default=None)

    @classmethod
    def from_incident(cls, incident: Incident) -> Case:
        reference = incident.crime_reference
        return cls(
            key=incident.key, retailer=incident.retailer, incident_id=incident.incident_id, revision=incident.revision,
            store_name=incident.store.name or incident.store.store_id, force_id=incident.store.force_id,
            region_id=incident.store.region_id, latitude=incident.store.latitude, longitude=incident.store.longitude,
            start=incident.occurred.start, received_at=incident.received_at, tactics=sorted({t.code for t in incident.tactics}),
            goods=sorted({g.category for g in incident.goods}), value_pence=incident.total_value_pence,
            offender_count=incident.offenders.count,
            descriptions=[CaseDescription(gender=d.gender, build=d.build, complexion=d.complexion,
                                          eye_colour=d.eye_colour, ethnicity=d.ethnicity,
                                          features=[f.lower() for f in d.distinguishing_features])
                          for d in incident.offenders.descriptions],
            vehicles=[CaseVehicle(registration=v.registration, valid=v.registration_valid, make=v.make, model=v.model,
                                  colour=v.colour) for v in incident.vehicles],
            crime_number=reference.normalised or reference.raw, eligibility=incident.eligibility.value,
            crime_number_source=reference.source.value if reference.raw else "", crime_number_via=reference.via,
            eligibility_reason=incident.eligibility_reason,
        )


class CorrelateCases(_Model):
    """Link these cases, in order. The gate sends one per batch: compact cases, so the correlator never re-reads
    whole incidents, and one message for many, so Faust's per-message cost is paid once
    (``crimelink.streams.engine.envelopes``)."""

    command: Literal["cases"] = "cases"
    cases: list[Case]


class SweepWindow(_Model):
    """Forget what has left the window. Sent by a timer in earlier versions; the correlator now sweeps after every
    command, and still reads this one where it is on the topic."""

    command: Literal["sweep"] = "sweep"


class EraseCase(_Model):
    """Forget one incident (``crimelink erase``): out of the window, its series and its links; the series' alert gets
    an evidence package without it."""

    command: Literal["erase"] = "erase"
    key: str


CorrelationCommand = Annotated[CorrelateCases | SweepWindow | EraseCase, Field(discriminator="command")]
correlation_commands: TypeAdapter[CorrelateCases | SweepWindow | EraseCase] = TypeAdapter(CorrelationCommand)


class LinkEvidence(_Model):
    feature: str = Field(description="vehicle, modus-operandi, descriptors, distinguishing-feature, offender-count")
    detail: str
    weight: float


class Link(_Model):
    a: str = Field(description="Key of the earlier incident.")
    b: str = Field(description="Key of the later incident.")
    score: float
    strong: bool = Field(description="Strong links join series; weak links are kept as leads only.")
    evidence: list[LinkEvidence]
    at: UtcDatetime

    @property
    def id(self) -> str:
        return f"{self.a}|{self.b}"


class Series(_Model):
    series_id: str
    members: list[str]
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    forces: list[str]
    regions: list[str]
    tactics: list[str]
    goods: list[str]
    vehicles: list[str]
    total_value_pence: int
    referable: list[str]
    pending: list[str]
    version: int = 0


class Alert(_Model):
    alert_id: str
    series_id: str
    level: int = Field(description="1 when first raised; +1 each time more forces or regions join.")
    status: str = Field(description="raised, escalated, or revised (its evidence changed: an incident was erased)")
    forces: list[str]
    regions: list[str]
    lead_force: str
    lead_reason: str
    incident_count: int
    referable_count: int
    total_value_pence: int
    at: UtcDatetime
    evidence: dict[str, object] = Field(default_factory=dict, description="The evidence package (JSON).")
    evidence_markdown: str = ""
