"""Normalised incidents and gate commands -> incidents with explicit eligibility, plus retailer feedback.

The held incidents live in a Faust table (changelog-backed, so a restarted worker recovers
them). Events are handled one at a time: a table write belongs to the partition of the event
being processed.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from crimelink.gate import CrimeNumberGate, GateOutcome
from crimelink.settings import get_settings
from schemas.incident import Incident
from schemas.outcomes import CrimeNumberUpdate
from streams import topics
from streams.app import app

__all__ = ["crime_number_gate", "expire_overdue", "held"]

log = logging.getLogger(__name__)
_settings = get_settings()

held = app.Table("awaiting-crime-number", default=None, partitions=_settings.topic_partitions)
gate = CrimeNumberGate(
    held,
    deadline=timedelta(seconds=_settings.pending_deadline_seconds),
    expired_retention=timedelta(days=_settings.expired_retention_days),
)


@app.agent(topics.gate_input)
async def crime_number_gate(stream):  # type: ignore[no-untyped-def]
    async for event in stream.events():
        try:
            outcome = _handle(event.message.topic, event.value)
        except Exception:  # noqa: BLE001 - crimelink wrote this message; a bug must not stop the gate
            log.exception("crime-number gate skipped %s:%s@%s", event.message.topic, event.message.partition,
                          event.message.offset)
            continue
        await _emit(outcome)


def _handle(topic: str, value: bytes) -> GateOutcome:
    now = datetime.now(UTC)
    if topic == topics.names.normalised:
        return gate.on_incident(Incident.model_validate_json(value), now)
    command = json.loads(value)
    if command["command"] == "update":
        return gate.on_update(CrimeNumberUpdate.model_validate(command["update"]), now)
    return gate.on_expire(command["key"], now)


async def _emit(outcome: GateOutcome) -> None:
    for incident in outcome.checked:
        await topics.checked.send(key=incident.key.encode(), value=incident.model_dump_json().encode())
    for entry in outcome.feedback:
        await topics.feedback.send(key=entry.key.encode(), value=entry.model_dump_json().encode())


@app.timer(interval=_settings.expiry_check_seconds)
async def expire_overdue() -> None:
    """Ask the gate to expire what is past its deadline; the command goes through the stream so the
    table is changed by the partition that owns the key."""
    for key in gate.due(datetime.now(UTC)):
        await topics.gate_commands.send(key=key.encode(), value=json.dumps({"command": "expire", "key": key}).encode())
