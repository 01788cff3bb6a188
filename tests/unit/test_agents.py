"""The agents themselves, run by Faust's ``agent.test_context()`` on an app built by ``create_app``: no broker, the
step's output kept by the ``send`` the app is given instead of produced (the integration tests produce it for real)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from crimelink.schemas.incident import IncidentBatch
from crimelink.settings import KafkaSettings, Settings, WorkerSettings
from crimelink.streams.app import CrimelinkApp, create_app
from crimelink.streams.engine.checkpoint import Output
from tests.conftest import grocer_record


def _intake_app(sent: list[Output], retailer_channels: list[str] | None = None) -> CrimelinkApp:
    async def keep(output: Output) -> None:
        sent.append(output)

    settings = Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1", topic_prefix="t.", topic_partitions=2,
                                            retailer_channels=retailer_channels or []),
                        worker=WorkerSettings(role="intake", batch_seconds=0.01))
    return create_app(settings, send=keep)


def _run(app: CrimelinkApp, agent_name: str, values: list[bytes], *, outputs: int, sent: list[Output],
         topic: str | None = None) -> None:
    """Put ``values`` into the agent's stream (as read from ``topic``, for an agent of several topics, where Faust's
    ``put`` would say ``<internal>``), then wait until it has sent ``outputs`` steps."""
    async def drive() -> None:
        async with app.agents[agent_name].test_context() as agent:
            for value in values:
                if topic is None:
                    await agent.put(value)
                    continue
                message = agent.to_message(None, value, offset=agent.sent_offset)
                message.topic = topic
                channel = agent.stream().channel
                await channel.put(await channel.decode(message))
                agent.sent_offset += 1
            for _ in range(200):  # the agent works on its own task: wait for what it sends
                if len(sent) >= outputs:
                    return
                await asyncio.sleep(0.01)

    asyncio.run(drive())


def _records(sent: list[Output]) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for output in sent:
        for topic, records in output.records.items():
            merged.setdefault(topic, []).extend(records)
    return merged


def test_an_app_installs_what_its_role_runs() -> None:
    intake = _intake_app([])
    worker = create_app(Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1")))  # starts intake workers beside it
    alone = create_app(Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1"), worker=WorkerSettings(intake_processes=0)))
    assert set(intake.agents) == {"normalise_feeds", "crime_number_gate", "route_crime_number_updates"}
    assert set(worker.agents) == {"correlate"}
    assert set(alone.agents) == set(intake.agents) | set(worker.agents)
    assert (intake.conf.id, worker.conf.id) == ("crimelink-intake", "crimelink")
    # no standby copies unless asked (Faust's default is 1; with the in-memory store they shorten no takeover)
    assert (intake.conf.table_standby_replicas, worker.conf.table_standby_replicas) == (0, 0)
    asked = create_app(Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1"), worker=WorkerSettings(
        table_standby_replicas=1)))
    assert asked.conf.table_standby_replicas == 1


def test_crime_number_updates_become_gate_commands_or_dead_letters() -> None:
    sent: list[Output] = []
    update = {"retailer": "northway", "incident_id": "NW-1", "crime_reference": "SX/12345678/25"}
    _run(_intake_app(sent), "route_crime_number_updates", [b'{"retailer": "x"', json.dumps(update).encode()],
         outputs=2, sent=sent)
    records = _records(sent)
    [(key, letter, _)] = records["t.deadletter"]
    assert json.loads(letter)["reasons"][0]["problem"] == "json_invalid"
    [(key, command, _)] = records["t.gate.commands"]
    routed = json.loads(command)
    assert key == b"northway:NW-1" and routed.pop("at")  # when it was received: the gate decides it as of then
    assert routed == {"command": "update", "update": {**update, "force_id": None},
                      "via": "t.crime-number-updates/0/1", "sender": "kafka:crimelink",
                      "source": "retailer-update"}  # kept on the crime number
    [(_, event, _)] = records["t.audit"]  # the alteration, in the same delivery as its command
    logged = json.loads(event)
    assert (logged["category"], logged["action"], logged["object"]) == ("alteration", "crime-number-update",
                                                                         "northway:NW-1")
    assert logged["principal"] == "kafka:crimelink" and "SX/12345678/25" in logged["detail"]


def test_what_arrives_on_a_retailer_channel_is_that_retailers_whatever_it_claims() -> None:
    """quikmart's own topics carry quikmart's data only: a record or an update naming northway is a dead letter
    (``retailer-mismatch``), reported to quikmart; its own update is logged as sent by its login."""
    sent: list[Output] = []
    app = _intake_app(sent, retailer_channels=["quikmart"])
    forged = {"retailer": "northway", "incident_id": "NW-1", "crime_reference": "NFRC999999999"}
    own = {"retailer": "quikmart", "incident_id": "QM-1", "crime_reference": "SX/12345678/25"}
    _run(app, "route_crime_number_updates", [json.dumps(forged).encode(), json.dumps(own).encode()], outputs=2,
         sent=sent, topic="t.retailer.quikmart.crime-number-updates")
    _run(app, "normalise_feeds", [json.dumps(grocer_record()).encode()], outputs=3, sent=sent,
         topic="t.retailer.quikmart.raw.national_grocer")
    records = _records(sent)
    letters = [json.loads(value) for _, value, _ in records["t.deadletter"]]
    assert [(letter["retailer"], letter["reasons"][0]["problem"]) for letter in letters] == [
        ("quikmart", "retailer-mismatch")] * 2
    assert "northway" in letters[0]["reasons"][0]["message"]
    assert [json.loads(value)["retailer"] for _, value, _ in records["t.feedback"]] == ["quikmart"] * 2
    [(key, command, _)] = records["t.gate.commands"]
    assert key == b"quikmart:QM-1" and json.loads(command)["sender"] == "kafka:retailer:quikmart"
    [(_, event, _)] = records["t.audit"]
    assert json.loads(event)["principal"] == "kafka:retailer:quikmart"
    assert "t.incidents.normalised" not in records  # the forged record made no incident


def test_the_normaliser_sends_one_envelope_per_partition_and_a_dead_letter_per_bad_record() -> None:
    sent: list[Output] = []
    good = [grocer_record(incident={"id": f"NW-A-{n}", "revision": 1, "reported_at": "2025-03-01T10:22:00Z"})
            for n in range(6)]
    values = [json.dumps(record).encode() for record in good] + [b"not json"]
    _run(_intake_app(sent), "normalise_feeds", values, outputs=1, sent=sent, topic="t.raw.national_grocer")
    records = _records(sent)
    envelopes = records["t.incidents.normalised"]
    assert {partition for _, _, partition in envelopes} <= {0, 1}
    incidents = [incident for _, envelope, _ in envelopes for incident in IncidentBatch.model_validate_json(envelope).incidents]
    assert sorted(incident.incident_id for incident in incidents) == sorted(f"NW-A-{n}" for n in range(6))
    assert [json.loads(value)["reasons"][0]["problem"] for _, value, _ in records["t.deadletter"]] == ["not-json"]
