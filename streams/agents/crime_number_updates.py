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
from crimelink.intake.normalise import retailer_mismatch
from crimelink.referral.gate import feedback_for_dead_letter
from crimelink.schemas.incident import CrimeNumberSource
from crimelink.schemas.outcomes import CrimeNumberUpdate, DeadLetter, Reason
from crimelink.streams.engine.checkpoint import Output
from crimelink.streams.topics import received_at
from crimelink.streams.wiring import Wiring

__all__ = ["install", "update_command"]


SHARED_SENDER = Principal("kafka:crimelink", Role.RETAILER, via="kafka")
"""Who sent an update on crimelink's own update topic: its own login (the gateway, which checked the retailer's token,
or the demo); on a broker without ACLs, anyone who can reach it. An update on a retailer's own topic was sent with that
retailer's login (:func:`sender`)."""


def sender(channel: str | None) -> Principal:
    """Who an update came from: the retailer whose own topic it arrived on, else crimelink's own login."""
    if channel is None:
        return SHARED_SENDER
    return Principal(f"kafka:retailer:{channel}", Role.RETAILER, retailers=(channel,), via="kafka")


def update_event(update: CrimeNumberUpdate, where: str, channel: str | None = None) -> AuditEvent:
    """The alteration an update asks for; its id comes from where it was read, so a replay is logged once."""
    force = f" from force {update.force_id}" if update.force_id else ""
    return AuditEvent(Category.ALTERATION, "crime-number-update", sender(channel), client=where, object=update.key,
                      rows=1,
                      detail=f"crime number {update.crime_reference!r}{force} sent for {update.retailer}; what it "
                             "changed is in retailer_feedback", event_id=uuid.uuid5(uuid.NAMESPACE_URL, where).hex)


def update_command(update: CrimeNumberUpdate, at: datetime, via: str, sender: str,
                   source: CrimeNumberSource = CrimeNumberSource.UPDATE) -> bytes:
    """The gate command that applies ``update``: when it was received and where from travel with it, so the gate
    decides it as of then however often it is routed, and the incident keeps where its crime number came from. Only
    crimelink writes this topic, so ``sender`` and ``source`` are what crimelink authenticated, not a claim."""
    return json.dumps({"command": "update", "update": update.model_dump(mode="json"), "at": at.isoformat(),
                       "via": via, "sender": sender, "source": source.value}).encode()


def install(app: Any, wiring: Wiring) -> Any:
    """Adds the crime-number update router to ``app``; returns it."""
    names = wiring.names

    @app.agent(wiring.topics.crime_number_updates, name="route_crime_number_updates")
    async def route_crime_number_updates(stream):  # type: ignore[no-untyped-def]
        """Each update's command (or dead letter) is delivered before the next is taken, so offsets never run ahead
        of it."""
        async for event in stream.events():
            message = event.message
            channel = names.channel_of(message.topic)
            where = f"{message.topic}/{message.partition}/{message.offset}"
            output = Output()
            update: CrimeNumberUpdate | None = None
            try:
                update = CrimeNumberUpdate.model_validate_json(event.value or b"")
            except ValidationError as error:
                reasons = reasons_from_validation(error) or [Reason(field="$", problem="invalid", message=str(error))]
            else:
                reasons = [retailer_mismatch(channel, update.retailer)] if channel not in (None, update.retailer) else []
            if reasons or update is None:
                letter = DeadLetter.from_raw(event.value or b"", reasons, feed_format="crime_number_update",
                                             topic=message.topic, partition=message.partition, offset=message.offset,
                                             received_at=datetime.now(UTC), retailer=channel,
                                             incident_id=update.incident_id if update else None)
                output.add(names.dead_letters, letter.key.encode(), letter.model_dump_json().encode())
                feedback = feedback_for_dead_letter(letter)  # the channel's owner hears of it; an anonymous sender not
                if feedback is not None:
                    output.add(names.feedback, feedback.key.encode(), feedback.model_dump_json().encode())
            else:
                command = update_command(update, received_at(message, datetime.now(UTC)), where, sender(channel).name)
                output.add(names.gate_commands, update.key.encode(), command)
                audit = update_event(update, where, channel)
                output.add(names.audit, audit.event_id.encode(), json.dumps(audit.record()).encode())
            await wiring.send(output)

    return route_crime_number_updates
