"""Retailers' crime-number updates -> gate commands keyed by incident (so they meet the held incident's partition),
each with its alteration event for the access log, in the same delivery."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from crimelink.access.audit import AuditEvent, Category
from crimelink.access.principals import Principal, Role
from crimelink.intake.feeds.base import reasons_from_validation
from crimelink.schemas.outcomes import CrimeNumberUpdate, DeadLetter, Reason
from crimelink.streams.engine.checkpoint import Output
from crimelink.streams.topics import received_at
from crimelink.streams.wiring import Wiring

__all__ = ["install"]


SENDER = Principal("kafka:unauthenticated", Role.RETAILER, via="kafka")
"""Who sent an update: Kafka clients do not authenticate yet, so only that a retailer's feed did. The record's
``retailer`` is a claim, not an identity."""


def update_event(update: CrimeNumberUpdate, where: str) -> AuditEvent:
    """The alteration an update asks for; its id comes from where it was read, so a replay is logged once."""
    force = f" from force {update.force_id}" if update.force_id else ""
    return AuditEvent(Category.ALTERATION, "crime-number-update", SENDER, client=where, object=update.key, rows=1,
                      detail=f"crime number {update.crime_reference!r}{force} sent for {update.retailer}; what it "
                             "changed is in retailer_feedback", event_id=uuid.uuid5(uuid.NAMESPACE_URL, where).hex)


def install(app: Any, wiring: Wiring) -> Any:
    """Adds the crime-number update router to ``app``; returns it."""
    names = wiring.names

    @app.agent(wiring.topics.crime_number_updates, name="route_crime_number_updates")
    async def route_crime_number_updates(stream):  # type: ignore[no-untyped-def]
        """Each update's command (or dead letter) is delivered before the next is taken, so offsets never run ahead
        of it."""
        async for event in stream.events():
            message = event.message
            output = Output()
            try:
                update = CrimeNumberUpdate.model_validate_json(event.value or b"")
            except ValidationError as error:
                reasons = reasons_from_validation(error) or [Reason(field="$", problem="invalid", message=str(error))]
                letter = DeadLetter.from_raw(event.value or b"", reasons, feed_format="crime_number_update",
                                             topic=message.topic, partition=message.partition, offset=message.offset,
                                             received_at=datetime.now(UTC))
                output.add(names.dead_letters, letter.key.encode(), letter.model_dump_json().encode())
            else:
                # When it was received travels with it: the gate decides it as of then, however often it is routed.
                command = {"command": "update", "update": update.model_dump(mode="json"),
                           "at": received_at(message, datetime.now(UTC)).isoformat()}
                output.add(names.gate_commands, update.key.encode(), json.dumps(command).encode())
                event = update_event(update, f"{message.topic}/{message.partition}/{message.offset}")
                output.add(names.audit, event.event_id.encode(), json.dumps(event.record()).encode())
            await wiring.send(output)

    return route_crime_number_updates
