"""End to end on the real broker and the real ClickHouse engine: publish raw records, read rows back."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from crimelink.cli.query_client import call_worker
from crimelink.errors import CrimelinkError
from crimelink.intake.feeds.bcp_csv import to_message
from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.referral.gate import apply_gate
from crimelink.schemas.outcomes import DeadLetter
from crimelink.simulation.feed import SimulatedRecord, Simulator
from crimelink.streams.kafka_io import Publisher, declare_topics, read_topic
from tests.conftest import RunningWorker, grocer_record, wait_until

pytestmark = pytest.mark.integration


def _publish(worker: RunningWorker, *records: bytes | dict[str, object]) -> None:
    with Publisher(worker.bootstrap) as publisher:
        for record in records:
            value = record if isinstance(record, bytes) else json.dumps(record).encode()
            publisher.send(worker.topics.raw["national_grocer"], value, key=b"k")


@pytest.mark.both_brokers
def test_a_raw_record_arrives_in_clickhouse_with_the_right_values(start_worker) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    _publish(worker, grocer_record())
    wait_until(lambda: worker.scalar("SELECT count() FROM incidents_latest"), message="the incident row")
    row = worker.query(
        "SELECT retailer, incident_id, force_id, region_id, total_value_pence, tactics, "
        "vehicle_registrations = [pseudonym('registration', 'ab12 cde')] AS searched, "
        "crime_ref_normalised, eligibility, source_topic FROM incidents_latest"
    ).as_dicts()[0]
    assert row == {
        "retailer": "northway", "incident_id": "NW-2025-TEST-1", "force_id": "sussex", "region_id": "serocu",
        "total_value_pence": 15600, "tactics": row["tactics"], "searched": True,  # the plate, as the analyst typed it
        "crime_ref_normalised": "SX/12345678/25", "eligibility": "referable",
        "source_topic": worker.topics.raw["national_grocer"],
    }
    assert row["tactics"][:2] == ["DIST-ALARM", "TEAM-LOOKOUT"]
    # The analysts' table holds the plate only as a pseudonym; one incident's page shows it, and that read is logged.
    assert worker.scalar("SELECT countIf(position(formatRow('TSV', *), 'AB12CDE') > 0) FROM incidents") == 0
    full = call_worker(worker.settings, "/api/incidents/northway/NW-2025-TEST-1")
    assert full["vehicle_registrations"] == ["AB12CDE"] and full["vehicle_pseudonyms"][0].startswith("v-")
    assert "neck tattoo" in full["offenders_json"]


@pytest.mark.both_brokers
def test_a_malformed_record_goes_to_the_dead_letter_topic_and_the_next_one_is_processed(start_worker) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    bad = b'{"schema": "ng-incident/2", "retailer": "northway", "incident": {"id": "BAD-1"'
    _publish(worker, grocer_record(incident={"id": "GOOD-1"}), bad, grocer_record(incident={"id": "GOOD-2"}))

    letters = [json.loads(value) for _, value in read_topic(worker.bootstrap, worker.topics.dead_letters, expect=1)]
    assert len(letters) == 1
    letter = DeadLetter.model_validate(letters[0])
    assert letter.reasons[0].problem == "not-json"
    assert letter.original_bytes() == bad
    assert letter.topic == worker.topics.raw["national_grocer"]

    wait_until(lambda: worker.scalar("SELECT count() FROM incidents_latest") == 2, message="both good incidents")
    ids = [row[0] for row in worker.query("SELECT incident_id FROM incidents_latest ORDER BY incident_id").rows]
    assert ids == ["GOOD-1", "GOOD-2"]
    wait_until(lambda: worker.scalar("SELECT count() FROM dead_letters"), message="the dead letter row")
    assert worker.query("SELECT summary, payload FROM dead_letters").rows == [("$: not-json", bad.decode())]


def _revised(record: SimulatedRecord) -> bytes:
    """The same incident as revision 2, in the record's own format."""
    if record.feed_format == "bcp_csv":
        rows = list(csv.reader(io.StringIO(record.value.decode())))
        rows[1][rows[0].index("Revision")] = "2"
        rows[1][rows[0].index("Police Ref")] = ""
        return to_message(rows[0], rows[1])
    document = json.loads(record.value)
    if record.feed_format == "convenience_flat":
        document.update(rev="2", crime_no="")
    else:
        document["incident"]["revision"] = 2
        document["police"]["crime_reference"] = None
    return json.dumps(document).encode()


@pytest.mark.parametrize("settings", [
    {},
    {"CRIMELINK_INTAKE_PROCESSES": "0"},
    {"CRIMELINK_SENT_ENVELOPES_MIB": "0"},
], ids=["intake-worker", "intake-in-worker-envelopes-from-memory", "envelopes-parsed"])
@pytest.mark.both_brokers
def test_every_message_ends_in_exactly_one_outcome_with_duplicates_and_revisions(  # type: ignore[no-untyped-def]
        start_worker, settings: dict[str, str]) -> None:
    """In each way the worker can run its hops: normalising and gating in an intake worker (the default) or in the worker, and
    envelopes taken back from memory or parsed (as after a restart or from another worker)."""
    worker = start_worker(**settings)
    now = datetime.now(UTC)
    registry = StoreRegistry.load()
    records = list(Simulator(registry, seed=5, fault_rate=0.05, now=now).records(600))
    good = [record for record in records if record.fault is None]
    resent = records[:30]  # retailers re-send: must not be stored twice
    revised = good[100:130]  # revision 2 drops the crime number: the incident becomes pending
    with Publisher(worker.bootstrap) as publisher:
        for record in [*records, *resent]:
            publisher.send(worker.topics.raw[record.feed_format], record.value, key=record.key)
        for record in revised:
            publisher.send(worker.topics.raw[record.feed_format], _revised(record), key=record.key)

    normaliser = Normaliser(registry)
    expected: Counter[str] = Counter()
    for record in records:
        result = normaliser.normalise(RawRecord(record.feed_format, record.value, "t", 0, 0, now))
        if isinstance(result, DeadLetter):
            expected["rejected"] += 1
        elif record not in revised:
            expected[apply_gate(result).eligibility.value] += 1
    expected["pending"] += len(revised)
    faults = sum(1 for record in records if record.fault)
    resent_faults = sum(1 for record in resent if record.fault)
    assert expected["rejected"] == faults > 0
    assert {record.feed_format for record in records} == {"national_grocer", "convenience_flat", "bcp_csv"}

    def stored() -> tuple[int, int]:
        return (worker.scalar("SELECT count() FROM incidents_latest"),
                worker.scalar("SELECT count() FROM dead_letters FINAL"))

    wait_until(lambda: stored() == (len(good), faults + resent_faults), timeout=90,
               message="every record in exactly one outcome")
    wait_until(lambda: worker.scalar("SELECT count() FROM incidents_latest WHERE revision = 2") == len(revised),
               message="every revision 2 stored")
    by_eligibility = dict(worker.query("SELECT eligibility, count() FROM incidents_latest GROUP BY eligibility").rows)
    assert by_eligibility == {key: value for key, value in expected.items() if key != "rejected"}
    assert worker.scalar("SELECT countIf(revision = 2 AND eligibility != 'pending') FROM incidents_latest") == 0
    assert worker.scalar("SELECT uniqExact(force_id) FROM incidents_latest") > 20
    assert worker.scalar("SELECT uniqExact(feed_format) FROM incidents_latest") == 3


def test_the_query_api_rejects_writes_with_a_clear_message(start_worker) -> None:  # type: ignore[no-untyped-def]
    from crimelink.errors import QueryError

    worker = start_worker()
    with pytest.raises(QueryError, match="DROP is not allowed"):
        worker.query("DROP TABLE incidents")
    with pytest.raises(QueryError, match="only one statement"):
        worker.query("SELECT 1; DROP TABLE incidents")
    assert worker.query("SELECT {n:UInt8} + 1 AS x", n=41).rows == [(42,)]
    assert worker.scalar("SELECT count() FROM incidents") == 0


def test_a_worker_refuses_topics_whose_partition_count_would_break_co_partitioning(kafka_bootstrap: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    worker = RunningWorker(kafka_bootstrap, tmp_path / "mismatch")
    declare_topics(kafka_bootstrap, [worker.topics.normalised], 1)  # made by hand with 1; the worker expects 2
    try:
        with pytest.raises(CrimelinkError, match=r"incidents\.normalised has 1, needs 2.*CRIMELINK_TOPIC_PARTITIONS"):
            worker.start()
    finally:
        worker.stop()
