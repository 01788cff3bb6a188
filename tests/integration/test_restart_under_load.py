"""Records that arrive while the worker restarts are all stored: none is lost in the hand-over.

A restarted worker resumes its input partitions while Faust is still seeking them to their
committed offsets, so records arrive during that hand-over. Faust's stock flow control dropped
whatever such records were still queued for an agent (streams/engine/flow_control.py); its consumer then
committed past them. This test keeps records flowing through two restarts and counts them. The race
is narrow: it passed 3 of 3 runs before the fix too; the unit tests in test_flow_control.py pin the cause.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from crimelink.streams.kafka_io import Publisher
from tests.conftest import RunningWorker, grocer_record, wait_until

pytestmark = pytest.mark.integration

RATE_PER_SECOND = 100


def _publish_until(stop: threading.Event, worker: RunningWorker, sent: list[str]) -> None:
    with Publisher(worker.bootstrap) as publisher:
        while not stop.is_set():
            incident_id = f"FLOW-{len(sent):05d}"
            record = grocer_record(incident={"id": incident_id, "revision": 1}, vehicles=[],
                                   offenders={"count": 1, "descriptions": []},
                                   police={"crime_reference": f"AB/{20000000 + len(sent)}/25"})
            publisher.send(worker.topics.raw["national_grocer"], json.dumps(record).encode(), key=incident_id.encode())
            sent.append(incident_id)
            publisher.flush()
            time.sleep(1 / RATE_PER_SECOND)


@pytest.mark.both_brokers
def test_records_sent_during_restarts_are_all_stored(start_worker) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    sent: list[str] = []
    stop = threading.Event()
    publisher = threading.Thread(target=_publish_until, args=(stop, worker, sent), daemon=True)
    publisher.start()
    try:
        wait_until(lambda: worker.scalar("SELECT count() FROM incidents") > 0, message="the first incidents stored")
        for _ in range(2):
            worker.restart()
            time.sleep(2)
    finally:
        stop.set()
        publisher.join(timeout=10)
    assert len(sent) > 500

    def stored() -> int:
        return int(worker.scalar("SELECT uniqExact(incident_id) FROM incidents WHERE incident_id LIKE 'FLOW-%'"))

    try:
        wait_until(lambda: stored() == len(sent), timeout=90, message=f"all {len(sent)} incidents stored")
    except AssertionError:
        kept = {row[0] for row in worker.query("SELECT DISTINCT incident_id FROM incidents").rows}
        missing = [incident_id for incident_id in sent if incident_id not in kept]
        raise AssertionError(f"{len(missing)} of {len(sent)} incidents never stored, e.g. {missing[:10]}") from None
    assert worker.scalar("SELECT count() FROM dead_letters") == 0
