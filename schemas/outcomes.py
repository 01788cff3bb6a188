"""Payloads of the outcome topics: dead letters and retailer feedback."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field

from crimelink.schemas.incident import UtcDatetime

__all__ = ["Reason", "DeadLetter", "CrimeNumberUpdate", "FeedbackStatus", "BACKLOG_STATUSES", "Feedback"]


class Reason(BaseModel):
    """One machine-readable reason a record was refused."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="Dotted path of the offending field, or '$' for the whole record.")
    problem: str = Field(description="Short machine-readable problem code, e.g. 'missing', 'unknown-store'.")
    message: str = Field("", description="What is wrong and how to fix it, in words.")
    value: str | None = Field(None, description="The offending value, truncated to 200 characters.")


class DeadLetter(BaseModel):
    """A raw record that could not become an incident, with why and the original bytes."""

    model_config = ConfigDict(frozen=True)

    feed_format: str
    retailer: str | None = Field(None, description="Retailer, when it could be read from the record.")
    incident_id: str | None = Field(None, description="Retailer's incident id, when readable.")
    topic: str
    partition: int
    offset: int
    received_at: UtcDatetime
    reasons: list[Reason] = Field(min_length=1)
    payload: str = Field(description="The original record: UTF-8 text, or base64 when it was not UTF-8.")
    payload_encoding: str = Field("utf-8", description="'utf-8' or 'base64'.")

    @classmethod
    def from_raw(cls, raw: bytes, reasons: list[Reason], *, feed_format: str, topic: str, partition: int, offset: int,
                 received_at: datetime, retailer: str | None = None, incident_id: str | None = None) -> DeadLetter:
        """A dead letter for a raw record, keeping its original bytes."""
        payload, encoding = cls.encode_payload(raw)
        return cls(feed_format=feed_format, retailer=retailer, incident_id=incident_id, topic=topic,
                   partition=partition, offset=offset, received_at=received_at, reasons=reasons, payload=payload,
                   payload_encoding=encoding)

    @property
    def key(self) -> str:
        """Kafka key: where the record came from, so a replay lands on the same key."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @staticmethod
    def encode_payload(raw: bytes) -> tuple[str, str]:
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii"), "base64"

    def original_bytes(self) -> bytes:
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode("utf-8")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> str:
        return "; ".join(f"{r.field}: {r.problem}" for r in self.reasons)


class CrimeNumberUpdate(BaseModel):
    """What a retailer sends when the force issues the crime number for an incident already reported."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    retailer: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    incident_id: str = Field(min_length=1, max_length=128)
    crime_reference: str = Field(min_length=1, max_length=64, description="The crime number as the force gave it.")
    force_id: str | None = Field(None, description="Issuing force when it is not the store's force.")

    @property
    def key(self) -> str:
        return f"{self.retailer}:{self.incident_id}"


class FeedbackStatus(StrEnum):
    REJECTED = "rejected"  # the record could not be read; nothing was stored as an incident
    PENDING = "pending"  # stored; waiting for a crime number
    INVALID = "invalid"  # stored; the crime number given is not valid for the force
    REFERABLE = "referable"  # stored and referable
    EXPIRED = "expired"  # no valid crime number before the deadline: intelligence only, never referable
    UPDATE_IGNORED = "update-ignored"  # a crime-number update that matched nothing awaiting one


BACKLOG_STATUSES: tuple[str, ...] = tuple(status.value for status in (
    FeedbackStatus.REJECTED, FeedbackStatus.PENDING, FeedbackStatus.INVALID, FeedbackStatus.EXPIRED))
"""The statuses a retailer's backlog lists (what still needs the retailer, or could not be referred), in that order."""


class Feedback(BaseModel):
    """One line of a retailer's feedback: what happened to an incident and what, if anything, to do."""

    model_config = ConfigDict(frozen=True)

    retailer: str
    incident_id: str
    revision: int = 0
    status: FeedbackStatus
    reason: str = Field(description="What crimelink found.")
    action: str = Field("", description="What the retailer should do about it; empty when nothing.")
    deadline: UtcDatetime | None = Field(None, description="When a pending incident expires.")
    at: UtcDatetime

    @property
    def key(self) -> str:
        """Kafka key: one retailer's feedback stays in order on one partition."""
        return self.retailer
