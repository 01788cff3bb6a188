"""Normalised incidents and gate commands -> incidents with explicit eligibility, plus retailer feedback;
every incident the gate lets through also goes, as a compact case, to correlation.

The held incidents live in a Faust table (changelog-backed, so a restarted worker recovers
them). Incidents arrive in envelopes (``crimelink.streams.engine.envelopes``) whose incidents all belong to the
envelope's partition, so each table write lands in the changelog partition of its own key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from crimelink.referral.gate import CrimeNumberGate, GateOutcome
from crimelink.schemas.correlation import Case
from crimelink.schemas.incident import CrimeNumberSource, IncidentBatch
from crimelink.schemas.outcomes import CrimeNumberUpdate
from crimelink.streams.engine.changelog import changelog_into
from crimelink.streams.engine.checkpoint import InOrderDelivery, Output
from crimelink.streams.engine.envelopes import CASES_HEAD, SentEnvelopes, pack_models
from crimelink.streams.topics import TopicNames
from crimelink.streams.wiring import Wiring

__all__ = ["install"]

log = logging.getLogger(__name__)

_IN_FLIGHT = 4
"""Envelopes or commands decided whose output, table writes included, is still on its way to the broker."""


def install(app: Any, wiring: Wiring) -> CrimeNumberGate:
    """Adds the gate agent, its table and its expiry timer to ``app``; returns the gate."""
    settings, names = wiring.settings, wiring.names
    held = app.Table("awaiting-crime-number", default=None, partitions=settings.kafka.topic_partitions,
                     extra_topic_configs=names.durability)
    gate = CrimeNumberGate(
        held,
        deadline=timedelta(seconds=settings.gate.pending_deadline_seconds),
        expired_retention=timedelta(days=settings.gate.expired_retention_days),
        early_update=timedelta(seconds=settings.gate.early_update_seconds),
    )
    # In an intake worker the case envelopes go to another process: keeping their models would only fill memory.
    correlator_here = not settings.intake_only

    @held.on_recover
    async def _reindex_recovered() -> None:
        """Recovery (after every rebalance) writes the table from its changelog, past the gate's deadline index."""
        gate.reindex()

    @app.agent(wiring.topics.gate_input, name="crime_number_gate")
    async def crime_number_gate(stream):  # type: ignore[no-untyped-def]
        """Each envelope or command is acknowledged once its output, table writes included, is delivered (in order),
        so offsets never run ahead of it."""
        manual = stream.noack()
        delivery = InOrderDelivery(manual, _IN_FLIGHT, wiring.send)
        try:
            async for event in manual.events():
                message = event.message
                output = Output()
                cases: list[Case] = []
                with changelog_into(output):
                    for outcome in _outcomes(gate, names, wiring.sent_incidents, message.topic, event.value,
                                             written_at(message), f"{message.topic}:{message.partition}@{message.offset}"):
                        cases.extend(_emit(outcome, output, names))
                for envelope, packed in pack_models(cases, CASES_HEAD):
                    output.add(names.correlation_in, None, envelope, 0)
                    if correlator_here:
                        wiring.sent_cases.remember(envelope, packed)
                await delivery.submit([event], output)
        finally:
            delivery.cancel()

    @app.timer(interval=settings.gate.expiry_check_seconds, name="expire_overdue")
    async def expire_overdue() -> None:
        """Ask the gate to expire what is past its deadline; the command goes through the stream so the
        table is changed by the partition that owns the key."""
        output = Output()
        for key in gate.due(datetime.now(UTC)):
            output.add(names.gate_commands, key.encode(), json.dumps({"command": "expire", "key": key}).encode())
        await wiring.send(output)

    return gate


def written_at(message: Any) -> datetime:
    """When ``message`` was written (its Kafka timestamp, set by crimelink's own producer on these topics)."""
    timestamp = getattr(message, "timestamp", None)
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else datetime.now(UTC)


def _outcomes(gate: CrimeNumberGate, names: TopicNames, sent_incidents: SentEnvelopes[Any], topic: str, value: bytes,
              now: datetime, where: str) -> Iterator[GateOutcome]:
    """The gate's decision for each incident of an envelope, or for one command. crimelink wrote these
    messages, so what fails here is a bug: it is logged and skipped rather than stopping the gate.

    Each is decided as of when crimelink received what it acts on (an incident's record, an update), not when it is
    read: a record normalised again after a restart comes in a new envelope, an update routed again in a new command,
    and both must give the same rows, which ClickHouse then collapses. An expiry is decided as of its command, ``now``
    (the time that command was written)."""
    try:
        if topic != names.normalised:
            command = json.loads(value)
            if command["command"] == "update":
                at = datetime.fromisoformat(command["at"]) if command.get("at") else now
                via = f"{command['via']} from {command['sender']}" if command.get("via") else ""
                source = CrimeNumberSource(command.get("source", CrimeNumberSource.UPDATE))
                yield gate.on_update(CrimeNumberUpdate.model_validate(command["update"]), at, via, source)
            elif command["command"] == "erase":
                gate.erase(command["key"])  # a tombstone in the changelog; nothing to store or tell
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
            yield gate.on_incident(incident, incident.received_at)
        except Exception:  # noqa: BLE001
            log.exception("crime-number gate skipped incident %s of %s", incident.key, where)


def _emit(outcome: GateOutcome, output: Output, names: TopicNames) -> list[Case]:
    """Adds the checked incidents and feedback to ``output``; returns the cases for correlation."""
    cases = []
    for incident in outcome.checked:
        output.add(names.checked, incident.key.encode(), incident.model_dump_json().encode())
        cases.append(Case.from_incident(incident))
    for entry in outcome.feedback:
        output.add(names.feedback, entry.key.encode(), entry.model_dump_json().encode())
    return cases
