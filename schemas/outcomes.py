"""Payloads of the outcome topics: dead letters and retailer feedback."""

from __future__ import annotations

import base64

from pydantic import BaseModel, ConfigDict, Field

from schemas.incident import UtcDatetime

__all__ = ["Reason", "DeadLetter"]


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

    @property
    def summary(self) -> str:
        return "; ".join(f"{r.field}: {r.problem}" for r in self.reasons)
