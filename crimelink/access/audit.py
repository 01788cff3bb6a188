"""The access log's record (Data Protection Act 2018 s.62): who did what to which data, when, from where, why, and
what came of it. It travels on the audit topic (``crimelink.streams.audit``) into ``crimelink.sinks.tables.audit_log``;
nothing in crimelink updates or deletes one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from crimelink.access.principals import Principal

__all__ = ["Category", "Outcome", "AuditEvent"]


class Category(StrEnum):
    """The kinds of processing section 62 names, plus authentication."""

    CONSULTATION = "consultation"
    DISCLOSURE = "disclosure"
    ALTERATION = "alteration"
    ERASURE = "erasure"
    COLLECTION = "collection"
    COMBINATION = "combination"
    AUTHENTICATION = "authentication"


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass
class AuditEvent:
    category: Category
    action: str
    """What was asked: query, stats, evidence, alerts, incident, backlog, audit, login, logout, webhook, ..."""
    principal: Principal
    client: str = ""
    """The caller's address (the TCP peer), or the component for the worker's own deliveries."""
    object: str = ""
    """The SQL text, the alert or incident id, the retailer."""
    rows: int = 0
    outcome: Outcome = Outcome.OK
    justification: str = ""
    recipient: str = ""
    """To whom data was disclosed: the caller for an export, the URL for a webhook."""
    detail: str = ""
    """Why it was refused or failed."""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Unique per event; the same for a replay of it, which the table then keeps once."""

    def record(self) -> dict[str, Any]:
        """The event as its topic carries it (JSON), fields cut to size."""
        return {"event_id": self.event_id, "at": self.at.isoformat(), "principal": self.principal.name,
                "role": self.principal.role.value if self.principal.role else "", "via": self.principal.via,
                "client": self.client, "category": self.category.value, "action": self.action,
                "object": self.object[:65536], "rows": self.rows, "outcome": self.outcome.value,
                "justification": self.justification[:2000], "recipient": self.recipient[:2000],
                "detail": self.detail[:2000]}
