"""The intake workers a worker starts (``crimelink.streams.engine.intake_workers``): they run apart from it, one that dies is
replaced with no record lost, and none outlives a worker killed outright."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crimelink.streams.kafka_io import Publisher
from tests.conftest import RunningWorker, grocer_record, wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(sys.platform != "linux", reason="finds the intake workers in /proc")]


def _intake_workers(worker: RunningWorker) -> list[int]:
    assert worker.process.process is not None
    children = []
    for thread in Path(f"/proc/{worker.process.process.pid}/task").glob("*/children"):  # a restart spawns from a thread
        try:
            children += [int(child) for child in thread.read_text().split()]
        except FileNotFoundError:
            continue
    return sorted(children)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _publish(worker: RunningWorker, first: int, count: int) -> None:
    with Publisher(worker.bootstrap) as publisher:
        for number in range(first, first + count):
            record = grocer_record(incident={"id": f"NW-WORKERS-{number}", "revision": 1,
                                             "reported_at": "2025-03-01T10:22:00Z"})
            publisher.send(worker.topics.raw["national_grocer"], json.dumps(record).encode(), key=str(number).encode())


def _stored(worker: RunningWorker) -> int:
    return int(worker.scalar("SELECT count() FROM incidents_latest WHERE incident_id LIKE 'NW-WORKERS-%'"))


def test_a_killed_intake_worker_is_replaced_and_no_record_is_lost(start_worker) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    [first] = wait_until(lambda: _intake_workers(worker), message="the intake worker")
    assert os.getsid(first) != os.getsid(worker.process.process.pid)  # Ctrl-C to the worker's group misses it
    _publish(worker, 0, 40)
    wait_until(lambda: _stored(worker) == 40, timeout=90, message="the first 40 incidents")

    os.kill(first, signal.SIGKILL)
    _publish(worker, 40, 40)  # sent while no intake worker runs: they wait in Kafka for the next one
    # Well inside the broker's 60 s session timeout, which a replacement without the dead one's static membership
    # (CRIMELINK_INTAKE_INSTANCE) would wait out before it got any partition.
    wait_until(lambda: _stored(worker) == 80, timeout=40, message="the 40 sent while the intake worker was down")
    [second] = _intake_workers(worker)
    assert second != first
    assert f"intake worker {first} exited with -9" in worker.log()


def test_intake_workers_stop_when_their_worker_is_killed(start_worker) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL gives the worker no chance to stop them; they must not outlive it, not even to stop gracefully (one that
    did went on gating beside its successor)."""
    worker = start_worker(CRIMELINK_INTAKE_PROCESSES="2")
    intake = wait_until(lambda: len(_intake_workers(worker)) == 2 and _intake_workers(worker),
                             message="two intake workers")
    assert worker.process.process is not None
    worker.process.process.kill()
    worker.process.process.wait()
    killed = time.monotonic()
    wait_until(lambda: not any(_alive(pid) for pid in intake), timeout=30, message="the intake workers to stop")
    assert time.monotonic() - killed < 3  # at once, not after a graceful stop
    assert worker.log().count("the worker that started this intake worker is gone; exiting with it") == 2


def test_fewer_intake_workers_take_over_the_partitions_of_the_ones_no_longer_started(  # type: ignore[no-untyped-def]
        start_worker) -> None:
    """A static member stays in its group after it stops; the worker removes those an earlier run left, or the
    partitions of the one no longer started would be assigned to nobody until the broker's session timeout (60 s)."""
    worker = start_worker(CRIMELINK_INTAKE_PROCESSES="2")
    wait_until(lambda: len(_intake_workers(worker)) == 2, message="two intake workers")
    _publish(worker, 0, 20)  # keyed across both partitions
    wait_until(lambda: _stored(worker) == 20, timeout=90, message="the first 20 incidents")
    worker.restart(CRIMELINK_INTAKE_PROCESSES="1")
    restarted = time.monotonic()
    _publish(worker, 20, 20)
    wait_until(lambda: _stored(worker) == 40, timeout=30, message="the next 20, from both partitions")
    print(f"the next 20 stored {time.monotonic() - restarted:.1f}s after the restart")
    # The stop took the static members out of the group (or, after a kill, the next start does): one is left.
    assert "left their consumer groups" in worker.log() or "of an earlier run removed" in worker.log()
    assert len(_intake_members(worker)) == 1


def _intake_members(worker: RunningWorker) -> list[str]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=worker.bootstrap)
    try:
        group = f"{worker.env['CRIMELINK_APP_ID']}-intake"
        return [member["group_instance_id"] for member in admin.describe_groups([group])[group]["members"]]
    finally:
        admin.close()


def _intake_assignment(worker: RunningWorker) -> dict[str, list[tuple[str, int]]]:
    """Each member of the settled intake group (by its static instance id) with the raw-topic partitions it reads;
    empty while the group rebalances."""
    from kafka import KafkaAdminClient

    logging.getLogger("kafka.admin").setLevel(logging.CRITICAL)  # it cannot decode Faust's member metadata, and says so
    admin = KafkaAdminClient(bootstrap_servers=worker.bootstrap)
    try:
        group = f"{worker.env['CRIMELINK_APP_ID']}-intake"
        described = admin.describe_groups([group])[group]
    finally:
        admin.close()
    if described["group_state"] != "Stable" or any(isinstance(member["member_assignment"], bytes)
                                                   for member in described["members"]):
        return {}
    raw = set(worker.topics.raw.values())
    return {member["group_instance_id"]: sorted((assigned["topic"], partition)
                                                for assigned in member["member_assignment"]["assigned_partitions"]
                                                if assigned["topic"] in raw for partition in assigned["partitions"])
            for member in described["members"]}


def _standalone_intake(worker: RunningWorker, home: Path, instance: str) -> subprocess.Popen[bytes]:
    """An intake worker started by hand on another machine (its own working area), as docs/configuration.md says."""
    home.mkdir(parents=True, mode=0o700)
    env = {**worker.env, "CRIMELINK_HOME": str(home), "CRIMELINK_WORKER_ROLE": "intake",
           "CRIMELINK_INTAKE_INSTANCE": instance, "CRIMELINK_KAFKA_SESSION_TIMEOUT_SECONDS": "15"}
    with (home / "intake.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "crimelink.cli", "worker", "--loglevel", "info"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def test_intake_workers_on_other_machines_share_the_raw_topics_and_one_lost_loses_nothing(  # type: ignore[no-untyped-def]
        start_worker, tmp_path: Path) -> None:
    worker = start_worker(CRIMELINK_TOPIC_PARTITIONS="4", CRIMELINK_KAFKA_SESSION_TIMEOUT_SECONDS="15")
    others = [_standalone_intake(worker, tmp_path / f"intake-machine-{n}", f"intake-machine-{n}") for n in range(2)]
    try:
        shared = wait_until(lambda: len(assigned := _intake_assignment(worker)) == 3 and assigned, timeout=90,
                            message="the worker's own intake worker and the two started elsewhere in one settled group")
        assert all(shared.values()), shared  # each reads raw partitions of its own (four per topic, three members)
        _publish(worker, 0, 200)  # keyed across the four partitions
        wait_until(lambda: _stored(worker) == 200, timeout=90, message="the first 200 incidents")
        assert others[0].poll() is None and others[1].poll() is None
        lost = others[0]
        lost.kill()  # that machine is gone
        lost.wait(10)
        _publish(worker, 200, 200)
        try:
            wait_until(lambda: _stored(worker) == 400, timeout=120, message="the next 200, the lost one's partitions too")
        except AssertionError as failure:  # which ones, and where they stopped
            missing = sorted(set(range(400)) - {int(row[0].rsplit("-", 1)[1]) for row in worker.query(
                "SELECT incident_id FROM incidents_latest WHERE incident_id LIKE 'NW-WORKERS-%'").rows})
            raise AssertionError(f"{failure}: {len(missing)} missing, {missing[:20]}; dead letters "
                                 f"{worker.scalar('SELECT count() FROM dead_letters')}; assignment "
                                 f"{_intake_assignment(worker)}") from failure
        assert worker.scalar("SELECT count() - uniqExact(incident_id) FROM incidents_latest") == 0  # none twice
        after = wait_until(lambda: len(assigned := _intake_assignment(worker)) == 2 and assigned, timeout=60,
                           message="the lost member gone from the settled group")
        assert "intake-machine-0" not in after
        assert sorted(p for partitions in after.values() for p in partitions) == sorted(
            p for partitions in shared.values() for p in partitions)  # the two left read all of them
    finally:
        for other in others:
            if other.poll() is None:
                os.killpg(other.pid, signal.SIGTERM)
                other.wait(30)
