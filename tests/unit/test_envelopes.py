"""Envelopes on the internal hops: the right partition, and nothing lost or oversized when a batch is split."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from kafka.partitioner.default import murmur2 as java_client_murmur2
from pydantic import BaseModel

from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.referral.gate import apply_gate
from crimelink.schemas.correlation import Case, CorrelateCases, correlation_commands
from crimelink.schemas.incident import Incident, IncidentBatch
from crimelink.simulation.feed import Simulator
from crimelink.streams.engine.envelopes import CASES_HEAD, INCIDENTS_HEAD, SentEnvelopes, pack_models, partition_for
from tests.unit.test_correlation import case


def test_partition_is_the_one_kafkas_default_partitioner_picks() -> None:
    keys = [f"northway:NW-{number}".encode() for number in range(2000)]
    for partitions in (1, 2, 3, 4, 12):
        assert [partition_for(key, partitions) for key in keys] == [
            (java_client_murmur2(key) & 0x7FFFFFFF) % partitions for key in keys
        ]
    assert {partition_for(key, 4) for key in keys} == {0, 1, 2, 3}


class _Item(BaseModel):
    n: int
    pad: str = ""


def test_pack_keeps_every_item_in_order_within_the_size_limit() -> None:
    items = [_Item(n=number, pad="x" * (number % 37)) for number in range(500)]
    envelopes = list(pack_models(items, INCIDENTS_HEAD, max_bytes=2000))
    assert len(envelopes) > 1 and all(len(envelope) <= 2000 for envelope, _ in envelopes)
    unpacked = [item["n"] for envelope, _ in envelopes for item in json.loads(envelope)["incidents"]]
    assert unpacked == list(range(500))
    assert [item.n for _, packed in envelopes for item in packed] == unpacked  # each envelope says what it holds


def test_an_item_larger_than_the_limit_still_goes_alone() -> None:
    big, small = _Item(n=0, pad="x" * 300), _Item(n=1)
    envelopes = list(pack_models([small, big, small], INCIDENTS_HEAD, max_bytes=100))
    assert [len(json.loads(envelope)["incidents"]) for envelope, _ in envelopes] == [1, 1, 1]
    assert [packed for _, packed in envelopes] == [[small], [big], [small]]
    assert list(pack_models([], INCIDENTS_HEAD)) == []


def test_a_packed_case_envelope_is_a_valid_correlation_command() -> None:
    cases = [case(f"k{number}", "sussex", number) for number in range(3)]
    ((envelope, _),) = pack_models(cases, CASES_HEAD)
    command = correlation_commands.validate_json(envelope)
    assert isinstance(command, CorrelateCases) and [c.key for c in command.cases] == ["k0", "k1", "k2"]


def _simulated_incidents(count: int) -> list[Incident]:
    registry = StoreRegistry.load()
    normaliser, now = Normaliser(registry), datetime.now(UTC)
    results = [normaliser.normalise(RawRecord(record.feed_format, record.value, "raw", 0, offset, now))
               for offset, record in enumerate(Simulator(registry, seed=11, fault_rate=0.0).records(count))]
    return [result for result in results if isinstance(result, Incident)]


def test_a_remembered_envelope_gives_back_exactly_what_parsing_it_would() -> None:
    """The gate and the correlator take their own process's envelopes from memory instead of parsing them, so
    the models remembered must equal the parse, field for field, for every feed format."""
    incidents = _simulated_incidents(600)
    assert {incident.feed_format for incident in incidents} == {"bcp_csv", "convenience_flat", "national_grocer"}
    sent_incidents: SentEnvelopes[Incident] = SentEnvelopes()
    envelopes = list(pack_models(incidents, INCIDENTS_HEAD, max_bytes=64 * 1024))
    assert len(envelopes) > 1
    for envelope, packed in envelopes:
        sent_incidents.remember(envelope, packed)
    for envelope, _ in envelopes:
        received = bytes(bytearray(envelope))  # as read from Kafka: equal bytes, another object
        assert sent_incidents.take(received) == IncidentBatch.model_validate_json(envelope).incidents
    assert [sent_incidents.taken, sent_incidents.parsed] == [len(envelopes), 0]

    cases = [Case.from_incident(apply_gate(incident)) for incident in incidents]
    ((envelope, packed),) = pack_models(cases, CASES_HEAD)
    command = correlation_commands.validate_json(envelope)
    assert isinstance(command, CorrelateCases) and packed == command.cases


def test_an_envelope_is_taken_once_and_forgotten_past_the_budget() -> None:
    sent: SentEnvelopes[Incident] = SentEnvelopes(max_bytes=100)
    incident = _simulated_incidents(1)[0]
    sent.remember(b"a" * 60, [incident])
    assert sent.take(b"a" * 60) == [incident]
    assert sent.take(b"a" * 60) is None  # read again (a re-read after a restart): parsed, like any envelope
    sent.remember(b"b" * 60, [incident])
    sent.remember(b"c" * 60, [incident])  # over the budget: the oldest is forgotten
    assert sent.take(b"b" * 60) is None and sent.take(b"c" * 60) == [incident]
    assert [sent.taken, sent.parsed] == [2, 2]
    switched_off: SentEnvelopes[Incident] = SentEnvelopes(max_bytes=0)  # CRIMELINK_SENT_ENVELOPES_MIB=0
    switched_off.remember(b"a", [incident])
    assert switched_off.take(b"a") is None
