"""The gateway's API models: its OpenAPI document is generated from them (``crimelink.gateway.published``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from crimelink.schemas.outcomes import Reason

__all__ = ["Problem", "RecordAnswer", "SubmissionAnswer", "CrimeNumberRequest", "CrimeNumberAnswer", "StatusChange",
           "IncidentStatus", "BacklogEntry", "BacklogPage"]

Expected = Literal["referable", "pending", "invalid"]
Utc = Annotated[datetime, AfterValidator(lambda moment: moment.replace(tzinfo=UTC) if moment.tzinfo is None
                                         else moment.astimezone(UTC))]
"""A time in UTC; one without an offset (as ClickHouse gives them) is UTC."""


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Answer):
    """What went wrong with a request as a whole (RFC 9457 problem details)."""

    type: str = Field("about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="Short, the same for every problem of this kind.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What was wrong with this request, and what to do.")
    errors: list[Reason] = Field(default_factory=list, description="Each thing wrong, where the body had several.")
    limit: int | None = Field(None, description="The limit exceeded (bytes or records), for 413.")
    retry_after_seconds: float | None = Field(None, description="When to try again, for 429 and 503 (also in the "
                                                                "Retry-After header).")


class RecordAnswer(_Answer):
    """What became of one record of the request."""

    index: int = Field(description="The record's position in the request, from 0.")
    outcome: Literal["accepted", "rejected"]
    incident_id: str | None = Field(None, description="The retailer's incident id, when the record gives one.")
    revision: int | None = None
    reasons: list[Reason] = Field(default_factory=list, description="Why it was rejected: the same machine-readable "
                                                                    "reasons as crimelink's dead letters.")
    expected_status: Expected | None = Field(None, description="What the crime-number gate will make of it, from the "
                                                               "record alone: referable (a valid crime number), "
                                                               "pending (none yet), invalid (not valid for the force).")
    status_reason: str = Field("", description="Why it will have that status.")
    force_id: str | None = Field(None, description="The force whose crime number it needs (the store's, or the one "
                                                   "the record names).")
    deadline: Utc | None = Field(None, description="When a pending or invalid incident expires unless a valid "
                                                        "crime number comes.")
    topic: str | None = Field(None, description="Where the accepted record is: it was on the broker (all in-sync "
                                                "replicas) before this answer was sent.")
    partition: int | None = None
    offset: int | None = None
    resent: bool = Field(False, description="The same record (incident, revision and content) was accepted before: "
                                            "this is the first answer again, and nothing was published twice.")


class SubmissionAnswer(_Answer):
    feed_format: str
    retailer: str = Field(description="The retailer the token submits for.")
    accepted: int
    rejected: int
    records: list[RecordAnswer]


class CrimeNumberRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    crime_reference: str = Field(min_length=1, max_length=64, description="The crime number as the force gave it.")
    force_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$",
                                 description="The issuing force's id, when it is not the store's force.")
    retailer: str | None = Field(None, min_length=1, max_length=64, description="Which of the token's retailers, "
                                                                                "when it has several.")


class CrimeNumberAnswer(_Answer):
    retailer: str
    incident_id: str
    crime_reference: str = Field(description="The crime number as normalised (upper case, '/' separators).")
    force_id: str = Field(description="The force it was checked against.")
    check: str = Field(description="Which rule of that force it matched.")
    topic: str
    partition: int
    offset: int
    resent: bool = Field(False, description="Sent before: the first answer again, nothing published twice.")


class StatusChange(_Answer):
    status: str
    revision: int
    reason: str
    action: str
    deadline: Utc | None
    at: Utc


class IncidentStatus(_Answer):
    retailer: str
    incident_id: str
    status: Literal["received", "rejected", "pending", "invalid", "referable", "expired"] = Field(
        description="received: accepted by the gateway, not yet through the crime-number gate; the rest as the gate "
                    "decided.")
    referable: bool = Field(description="Whether the incident may be referred to the police as evidence.")
    revision: int | None = None
    missing: str = Field("", description="What the retailer still has to do; empty when nothing.")
    deadline: Utc | None = Field(None, description="By when, for a pending or invalid incident.")
    updated_at: Utc | None = None
    history: list[StatusChange] = Field(default_factory=list, description="Every status change, oldest first.")


class BacklogEntry(_Answer):
    incident_id: str
    revision: int
    status: Literal["rejected", "pending", "invalid", "expired"]
    reason: str
    action: str
    deadline: Utc | None
    updated_at: Utc


class BacklogPage(_Answer):
    retailer: str
    items: list[BacklogEntry]
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="Pass as offset for the next page; null on the last page.")
