"""Normalised incidents and gate commands -> incidents with explicit eligibility, plus retailer feedback;
every incident the gate lets through also goes, as a compact case, to correlation.

The held incidents live in a Faust table (changelog-backed, so a restarted worker recovers
them). Events come in batches; each is marked current while handled so its table writes
belong to its own partition.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from crimelink.gate import CrimeNumberGate, GateOutcome
from crimelink.settings import get_settings
from schemas.correlation import Case, CorrelateCase
from schemas.incident import Incident
from schemas.outcomes import CrimeNumberUpdate
from streams import topics
from streams.app import app
from streams.batching import event_batches, handling

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
    async for events in event_batches(stream):
        now = datetime.now(UTC)
        for event in events:
            message = handling(stream, event).message
            try:
                outcome = _handle(message.topic, event.value, now)
            except Exception:  # noqa: BLE001 - crimelink wrote this message; a bug must not stop the gate
                log.exception("crime-number gate skipped %s:%s@%s", message.topic, message.partition, message.offset)
                continue
            _emit(outcome)


def _handle(topic: str, value: bytes, now: datetime) -> GateOutcome:
    if topic == topics.names.normalised:
        return gate.on_incident(Incident.model_validate_json(value), now)
    command = json.loads(value)
    if command["command"] == "update":
        return gate.on_update(CrimeNumberUpdate.model_validate(command["update"]), now)
    return gate.on_expire(command["key"], now)


def _emit(outcome: GateOutcome) -> None:
    """Buffered sends: Faust flushes them before it commits the offsets of the events that caused them."""
    for incident in outcome.checked:
        key = incident.key.encode()
        topics.checked.send_soon(key=key, value=incident.model_dump_json().encode())
        command = CorrelateCase(case=Case.from_incident(incident))
        topics.correlation_in.send_soon(key=key, value=command.model_dump_json().encode())
    for entry in outcome.feedback:
        topics.feedback.send_soon(key=entry.key.encode(), value=entry.model_dump_json().encode())


@app.timer(interval=_settings.expiry_check_seconds)
async def expire_overdue() -> None:
    """Ask the gate to expire what is past its deadline; the command goes through the stream so the
    table is changed by the partition that owns the key."""
    for key in gate.due(datetime.now(UTC)):
        await topics.gate_commands.send(key=key.encode(), value=json.dumps({"command": "expire", "key": key}).encode())
