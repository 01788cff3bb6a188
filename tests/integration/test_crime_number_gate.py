"""The crime-number requirement through the real broker: held, released, expired, and across a restart."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from kafka import KafkaAdminClient
from kafka.partitioner.default import murmur2

from crimelink.schemas.outcomes import Feedback, FeedbackStatus
from crimelink.streams.kafka_auth import client_options
from crimelink.streams.kafka_io import Publisher, read_topic
from tests.conftest import RunningWorker, grocer_record, read_records, wait_until

pytestmark = pytest.mark.integration


def _send_incidents(worker: RunningWorker, *records: dict[str, object]) -> None:
    with Publisher(worker.bootstrap) as publisher:
        for record in records:
            publisher.send(worker.topics.raw["national_grocer"], json.dumps(record).encode())


def _send_updates(worker: RunningWorker, *updates: dict[str, object] | bytes) -> None:
    with Publisher(worker.bootstrap) as publisher:
        for update in updates:
            value = update if isinstance(update, bytes) else json.dumps(update).encode()
            publisher.send(worker.topics.crime_number_updates, value)


def _changelog_partitions(worker: RunningWorker) -> dict[str, int]:
    topic = f"{worker.env['CRIMELINK_APP_ID']}-awaiting-crime-number-changelog"
    return {key.decode().strip('"'): partition for key, _, partition in read_records(worker.bootstrap, topic) if key}


def _envelope_partitions(worker: RunningWorker) -> dict[str, int]:
    """Incident key -> partition of the normaliser's envelope that carried it."""
    return {f"{incident['retailer']}:{incident['incident_id']}": partition
            for _, value, partition in read_records(worker.bootstrap, worker.topics.normalised)
            for incident in json.loads(value)["incidents"]}


def _eligibility(worker: RunningWorker) -> dict[str, str]:
    return dict(worker.query("SELECT incident_id, eligibility FROM incidents_latest").rows)


def _record(incident_id: str, reference: str | None) -> dict[str, object]:
    return grocer_record(incident={"id": incident_id, "revision": 1}, police={"crime_reference": reference})


@pytest.mark.both_brokers
def test_pending_is_released_by_an_update_and_the_rest_expire(start_worker) -> None:  # type: ignore[no-untyped-def]
    # The deadline runs from when the broker appended the record, which can be seconds before a loaded machine's
    # intake worker is up: at 6 s, P-1 once expired before its update was read.
    worker = start_worker(CRIMELINK_PENDING_DEADLINE_SECONDS="20", CRIMELINK_EXPIRY_CHECK_SECONDS="0.5",
                          CRIMELINK_EARLY_UPDATE_SECONDS="4")  # the update for NOPE waits that long for its incident
    _send_incidents(worker, _record("P-1", None), _record("P-2", "INC-2231"), _record("R-1", "SX/12345678/25"))
    wait_until(lambda: _eligibility(worker) == {"P-1": "pending", "P-2": "pending", "R-1": "referable"},
               message="two pending, one referable")
    _send_updates(worker, {"retailer": "northway", "incident_id": "P-1", "crime_reference": "SX/87654321/25"},
                  {"retailer": "northway", "incident_id": "NOPE", "crime_reference": "SX/87654321/25"},
                  b'{"retailer": "northway"}')
    wait_until(lambda: _eligibility(worker)["P-1"] == "referable", message="P-1 released")
    row = worker.query("SELECT crime_ref_raw, crime_ref_normalised, revision FROM incidents_latest "
                       "WHERE incident_id = 'P-1'").rows
    assert row == [("SX/87654321/25", "SX/87654321/25", 1)]

    wait_until(lambda: _eligibility(worker)["P-2"] == "expired", timeout=60, message="P-2 expired")
    assert _eligibility(worker) == {"P-1": "referable", "P-2": "expired", "R-1": "referable"}

    # An update after expiry is answered, and changes nothing.
    _send_updates(worker, {"retailer": "northway", "incident_id": "P-2", "crime_reference": "SX/11112222/25"})
    feedback = [Feedback.model_validate_json(value)
                for _, value in read_topic(worker.bootstrap, worker.topics.feedback, expect=7, timeout=30)]
    statuses = [(entry.incident_id, entry.status) for entry in feedback]
    assert ("P-2", FeedbackStatus.EXPIRED) in statuses
    assert ("NOPE", FeedbackStatus.UPDATE_IGNORED) in statuses
    assert statuses.count(("P-2", FeedbackStatus.UPDATE_IGNORED)) == 1
    assert _eligibility(worker)["P-2"] == "expired"

    wait_until(lambda: worker.scalar("SELECT count() FROM dead_letters WHERE feed_format = 'crime_number_update'"),
               message="the malformed update in dead letters")
    backlog = worker.query("SELECT incident_id, current_status FROM retailer_backlog WHERE retailer = {r:String} "
                           "ORDER BY incident_id", r="northway").rows
    assert backlog == [("P-2", "expired")]

    shown = subprocess.run([sys.executable, "-m", "crimelink.cli", "backlog", "northway", "--format", "json"],
                           env=worker.env, capture_output=True, text=True, check=True)
    assert [(row["incident_id"], row["status"]) for row in json.loads(shown.stdout)] == [("P-2", "expired")]
    assert "northway: 1 in the backlog (1 expired)" in shown.stderr
    filtered = subprocess.run([sys.executable, "-m", "crimelink.cli", "backlog", "northway", "--status", "pending"],
                              env=worker.env, capture_output=True, text=True, check=True)
    assert "nothing pending" in filtered.stderr and "P-2" not in filtered.stdout
    unknown = subprocess.run([sys.executable, "-m", "crimelink.cli", "backlog", "nosuchretailer"], env=worker.env,
                             capture_output=True, text=True)
    assert unknown.returncode == 1 and "no retailer 'nosuchretailer'" in unknown.stderr


def test_the_crime_number_command_prints_the_gates_answer_and_refuses_an_unknown_incident(  # type: ignore[no-untyped-def]
        start_worker) -> None:
    """Issue 23: it said "sent" and nothing more, also for an incident crimelink does not hold."""
    worker = start_worker()
    _send_incidents(worker, _record("W-1", None))
    wait_until(lambda: _eligibility(worker) == {"W-1": "pending"}, message="W-1 pending")
    command = [sys.executable, "-m", "crimelink.cli", "crime-number", "northway"]

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *arguments], env=worker.env, capture_output=True, text=True, timeout=120)

    released = run("W-1", "SX/87654321/25")
    assert released.returncode == 0, released.stderr
    assert "the gate: referable" in released.stdout
    again = run("W-1", "SX/11112222/25")
    assert "the gate: update-ignored: the incident is already referable" in again.stdout
    unknown = run("NOPE", "SX/87654321/25")
    assert unknown.returncode == 1 and "crimelink holds no incident northway/NOPE" in unknown.stderr
    assert "sent crime number" not in unknown.stdout  # refused before anything was sent


def test_an_update_sent_before_its_incident_releases_it_when_it_comes(start_worker) -> None:  # type: ignore[no-untyped-def]
    """Updates and incidents travel on different topics. Under load, with the worker killed ten times, 625 of 2,981
    updates were read before their incident and dropped as 'no incident with this id'."""
    worker = start_worker()
    _send_updates(worker, {"retailer": "northway", "incident_id": "EARLY-1", "crime_reference": "SX/87654321/25"})
    assert len(list(read_topic(worker.bootstrap, worker.topics.gate_commands, expect=1, timeout=30))) == 1  # routed
    # The intake worker lagging: the incident comes behind a backlog of raw records, its update (routed ahead of it,
    # on the small updates topic) with it.
    backlog = [_record(f"FILL-{number}", "SX/12345678/25") for number in range(1500)]
    _send_incidents(worker, *backlog, _record("LATE-1", None))
    _send_updates(worker, {"retailer": "northway", "incident_id": "LATE-1", "crime_reference": "SX/11223344/25"})
    _send_incidents(worker, _record("EARLY-1", None))
    wait_until(lambda: {"EARLY-1", "LATE-1"} <= set(_eligibility(worker)), timeout=90, message="both incidents stored")
    wait_until(lambda: _eligibility(worker)["EARLY-1"] == "referable" and _eligibility(worker)["LATE-1"] == "referable",
               message="both released by the update that came first")
    assert worker.query("SELECT crime_ref_normalised FROM incidents_latest WHERE incident_id IN ('EARLY-1', 'LATE-1') "
                        "ORDER BY incident_id").rows == [("SX/87654321/25",), ("SX/11223344/25",)]
    ignored = worker.scalar("SELECT count() FROM retailer_feedback WHERE status = 'update-ignored'")
    assert ignored == 0


def _gate_partitions_by_member(worker: RunningWorker) -> list[list[int]]:
    """Each member of the worker's consumer group with the partitions of normalised incidents it was assigned."""
    group = worker.env["CRIMELINK_APP_ID"]
    logging.getLogger("kafka.admin").setLevel(logging.ERROR)  # it cannot decode Faust's member metadata, and says so
    admin = KafkaAdminClient(**client_options(worker.bootstrap))
    try:
        described = admin.describe_groups([group])[group]
    finally:
        admin.close()
    if described["group_state"] != "Stable":
        return []
    return [sorted(partition for assigned in member["member_assignment"]["assigned_partitions"]
                   if assigned["topic"] == worker.topics.normalised for partition in assigned["partitions"])
            for member in described["members"]]


def test_incidents_held_by_a_worker_that_left_expire_in_the_one_that_took_over(  # type: ignore[no-untyped-def]
        start_worker) -> None:
    """Their held state reaches the other worker's table by changelog recovery at the rebalance, not through its
    gate: its expiry check must still find them."""
    gate_settings = {"CRIMELINK_PENDING_DEADLINE_SECONDS": "40", "CRIMELINK_EXPIRY_CHECK_SECONDS": "0.5",
                     "CRIMELINK_INTAKE_PROCESSES": "0"}  # the gate in the workers, which leave their group at once
    staying = start_worker(**gate_settings)
    leaving = start_worker(CRIMELINK_APP_ID=staying.env["CRIMELINK_APP_ID"],
                           CRIMELINK_TOPIC_PREFIX=staying.env["CRIMELINK_TOPIC_PREFIX"], **gate_settings)
    wait_until(lambda: sorted(_gate_partitions_by_member(staying)) == [[0], [1]], timeout=60,
               message="the two workers share the gate's partitions")
    _send_incidents(staying, *(_record(f"H-{n}", None) for n in range(6)))
    wait_until(lambda: len(_changelog_partitions(staying)) == 6, message="six incidents held")
    assert set(_changelog_partitions(staying).values()) == {0, 1}  # held by both workers
    leaving.stop()
    wait_until(lambda: _gate_partitions_by_member(staying) == [[0, 1]], timeout=60, message="one worker left")

    def expired() -> set[str]:
        feedback = (Feedback.model_validate_json(value) for _, value, _ in read_records(staying.bootstrap,
                                                                                          staying.topics.feedback))
        return {entry.incident_id for entry in feedback if entry.status is FeedbackStatus.EXPIRED}
    wanted, seen = {f"H-{n}" for n in range(6)}, set[str]()

    def all_expired() -> bool:
        seen.clear()
        seen.update(expired())
        return seen == wanted
    try:
        wait_until(all_expired, timeout=90, message="all six expired")
    except AssertionError as failure:  # say which ones, and where the gate's state says the rest are held
        raise AssertionError(f"{failure}: expired {sorted(seen)}; held by changelog partition "
                             f"{_changelog_partitions(staying)}; gate partitions {_gate_partitions_by_member(staying)}"
                             ) from failure


@pytest.mark.parametrize("after_restart", [{}, {"CRIMELINK_INTAKE_PROCESSES": "0"}],
                         ids=["same-worker", "gate-moves-into-the-worker"])
@pytest.mark.both_brokers
def test_a_restart_while_incidents_are_pending_loses_and_doubles_nothing(  # type: ignore[no-untyped-def]
        start_worker, after_restart: dict[str, str]) -> None:
    """Also when the gate moves from the intake worker into the worker: its table keeps one changelog either way."""
    worker = start_worker()
    pending = [_record(f"H-{n:02d}", None if n % 2 else "INC-77") for n in range(20)]
    referable = [_record(f"V-{n:02d}", "SX/12345678/25") for n in range(10)]
    _send_incidents(worker, *pending, *referable)
    wait_until(lambda: worker.scalar("SELECT count() FROM incidents_latest") == 30, message="30 incidents stored")
    # Incidents reach the gate in envelopes; each held incident must still be written to the changelog partition
    # its own key hashes to (where gate commands keyed by it arrive), or another worker would restore it after a
    # rebalance and an update would never meet it.
    held_in = _changelog_partitions(worker)
    arrived_in = _envelope_partitions(worker)
    assert len(held_in) == 20 and set(held_in.values()) == {0, 1}
    assert {key: arrived_in[key] for key in held_in} == held_in
    # kafka-python's murmur2, as the Java client's default partitioner uses it:
    assert {key: (murmur2(key.encode()) & 0x7FFFFFFF) % 2 for key in held_in} == held_in
    # Topics of record are keyed by incident and partitioned as any Kafka producer would, so readers keep order.
    checked = read_records(worker.bootstrap, worker.topics.checked)
    assert len(checked) == 30
    assert all(key is not None and partition == (murmur2(key) & 0x7FFFFFFF) % 2 for key, _, partition in checked)

    worker.restart(**after_restart)
    _send_updates(worker, *({"retailer": "northway", "incident_id": f"H-{n:02d}", "crime_reference": "SX/55556666/25"}
                            for n in range(0, 20, 2)))
    wait_until(lambda: worker.scalar("SELECT countIf(eligibility = 'referable') FROM incidents_latest") == 20,
               message="ten held incidents released after the restart")
    counts = dict(worker.query("SELECT eligibility, count() FROM incidents_latest GROUP BY eligibility").rows)
    assert counts == {"referable": 20, "pending": 10}
    per_incident = worker.query("SELECT incident_id, count() AS n FROM incidents_latest GROUP BY incident_id HAVING n > 1")
    assert per_incident.rows == []
    released = worker.scalar("SELECT count() FROM retailer_feedback FINAL WHERE status = 'referable' "
                             "AND incident_id LIKE 'H-%'")
    assert released == 10  # each release recorded once, none replayed
    assert "Recovery" in worker.log() or "recover" in worker.log().lower()
