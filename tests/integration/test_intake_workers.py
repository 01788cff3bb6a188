"""The intake workers a worker starts (``crimelink.streams.engine.intake_workers``): they run apart from it, one that dies is
replaced with no record lost, and none outlives a worker killed outright."""

from __future__ import annotations

import json
import os
import signal
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
