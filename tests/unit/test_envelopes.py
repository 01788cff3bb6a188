"""Envelopes on the internal hops: the right partition, and nothing lost or oversized when a batch is split."""

from __future__ import annotations

import json

from kafka.partitioner.default import murmur2 as java_client_murmur2

from schemas.correlation import CorrelateCases, correlation_commands
from streams.envelopes import CASES_HEAD, INCIDENTS_HEAD, pack, partition_for
from tests.unit.test_correlation import case


def test_partition_is_the_one_kafkas_default_partitioner_picks() -> None:
    keys = [f"northway:NW-{number}".encode() for number in range(2000)]
    for partitions in (1, 2, 3, 4, 12):
        assert [partition_for(key, partitions) for key in keys] == [
            (java_client_murmur2(key) & 0x7FFFFFFF) % partitions for key in keys
        ]
    assert {partition_for(key, 4) for key in keys} == {0, 1, 2, 3}


def test_pack_keeps_every_item_in_order_within_the_size_limit() -> None:
    items = [json.dumps({"n": number, "pad": "x" * (number % 37)}).encode() for number in range(500)]
    envelopes = list(pack(items, INCIDENTS_HEAD, max_bytes=2000))
    assert len(envelopes) > 1 and all(len(envelope) <= 2000 for envelope in envelopes)
    unpacked = [item["n"] for envelope in envelopes for item in json.loads(envelope)["incidents"]]
    assert unpacked == list(range(500))


def test_an_item_larger_than_the_limit_still_goes_alone() -> None:
    big, small = json.dumps({"n": "x" * 300}).encode(), b'{"n":1}'
    envelopes = list(pack([small, big, small], INCIDENTS_HEAD, max_bytes=100))
    assert [len(json.loads(envelope)["incidents"]) for envelope in envelopes] == [1, 1, 1]
    assert list(pack([], INCIDENTS_HEAD)) == []


def test_a_packed_case_envelope_is_a_valid_correlation_command() -> None:


    cases = [case(f"k{number}", "sussex", number).model_dump_json().encode() for number in range(3)]
    (envelope,) = pack(cases, CASES_HEAD)
    command = correlation_commands.validate_json(envelope)
    assert isinstance(command, CorrelateCases) and [c.key for c in command.cases] == ["k0", "k1", "k2"]
