"""Normalised incidents and gate commands -> incidents with explicit eligibility, plus retailer feedback;
every incident the gate lets through also goes, as a compact case, to correlation.

The held incidents live in a Faust table (changelog-backed, so a restarted worker recovers
them). Incidents arrive in envelopes (``streams.envelopes``) whose incidents all belong to the
envelope's partition, so each table write lands in the changelog partition of its own key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from crimelink.gate import CrimeNumberGate, GateOutcome
from crimelink.settings import get_settings
from schemas.correlation import Case
from schemas.incident import IncidentBatch
from schemas.outcomes import CrimeNumberUpdate
from streams import topics
from streams.app import app
from streams.changelog import changelog_into
from streams.envelopes import CASES_HEAD, pack_models, sent_cases, sent_incidents
from streams.output import InOrderDelivery, Output, deliver

__all__ = ["crime_number_gate", "expire_overdue", "held"]

log = logging.getLogger(__name__)
_settings = get_settings()

held = app.Table("awaiting-crime-number", default=None, partitions=_settings.topic_partitions)
gate = CrimeNumberGate(
    held,
    deadline=timedelta(seconds=_settings.pending_deadline_seconds),
    expired_retention=timedelta(days=_settings.expired_retention_days),
)


@held.on_recover
async def _reindex_recovered() -> None:
    """Recovery (after every rebalance) writes the table from its changelog, past the gate's deadline index."""
    gate.reindex()


_CORRELATOR_HERE = _settings.worker_role == "worker"
"""In an intake worker the case envelopes go to another process: keeping their models (``streams.envelopes``) would only
fill memory."""
_IN_FLIGHT = 4
"""Envelopes or commands decided whose output, table writes included, is still on its way to the broker."""


@app.agent(topics.gate_input)
async def crime_number_gate(stream):  # type: ignore[no-untyped-def]
    """Each envelope or command is acknowledged once its output, table writes included, is delivered (in order), so
    offsets never run ahead of it."""
    manual = stream.noack()
    delivery = InOrderDelivery(manual, _IN_FLIGHT)
    try:
        async for event in manual.events():
            message = event.message
            output = Output()
            cases: list[Case] = []
            with changelog_into(output):
                for outcome in _outcomes(message.topic, event.value, datetime.now(UTC),
                                         f"{message.topic}:{message.partition}@{message.offset}"):
                    cases.extend(_emit(outcome, output))
            for envelope, packed in pack_models(cases, CASES_HEAD):
                output.add(topics.names.correlation_in, None, envelope, 0)
                if _CORRELATOR_HERE:
                    sent_cases.remember(envelope, packed)
            await delivery.submit([event], output)
    finally:
        delivery.cancel()


def _outcomes(topic: str, value: bytes, now: datetime, where: str) -> Iterator[GateOutcome]:
    """The gate's decision for each incident of an envelope, or for one command. crimelink wrote these
    messages, so what fails here is a bug: it is logged and skipped rather than stopping the gate."""
    try:
        if topic != topics.names.normalised:
            command = json.loads(value)
            if command["command"] == "update":
                yield gate.on_update(CrimeNumberUpdate.model_validate(command["update"]), now)
            else:
                yield gate.on_expire(command["key"], now)
            return
        incidents = sent_incidents.take(value)
        if incidents is None:
            incidents = IncidentBatch.model_validate_json(value).incidents
    except Exception:  # noqa: BLE001
        log.exception("crime-number gate skipped %s", where)
        return
    for incident in incidents:
        try:
            yield gate.on_incident(incident, now)
        except Exception:  # noqa: BLE001
            log.exception("crime-number gate skipped incident %s of %s", incident.key, where)


def _emit(outcome: GateOutcome, output: Output) -> list[Case]:
    """Adds the checked incidents and feedback to ``output``; returns the cases for correlation."""
    cases = []
    for incident in outcome.checked:
        output.add(topics.names.checked, incident.key.encode(), incident.model_dump_json().encode())
        cases.append(Case.from_incident(incident))
    for entry in outcome.feedback:
        output.add(topics.names.feedback, entry.key.encode(), entry.model_dump_json().encode())
    return cases


@app.timer(interval=_settings.expiry_check_seconds)
async def expire_overdue() -> None:
    """Ask the gate to expire what is past its deadline; the command goes through the stream so the
    table is changed by the partition that owns the key."""
    output = Output()
    for key in gate.due(datetime.now(UTC)):
        output.add(topics.names.gate_commands, key.encode(), json.dumps({"command": "expire", "key": key}).encode())
    await deliver(output)
