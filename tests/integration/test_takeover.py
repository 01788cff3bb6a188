"""A worker machine lost for good, and a worker on another machine (another working directory, so another static
member of the consumer groups) taking its work over: the gate's held incidents and the correlator's series come back
from the changelogs, not from anything the lost machine kept."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from bench._local import children_of
from crimelink.schemas.correlation import Alert
from crimelink.streams.kafka_io import Publisher, read_topic
from tests.conftest import wait_until
from tests.integration.test_correlation import _group_incident, _send

pytestmark = pytest.mark.integration


TAKEOVER = 15.0
"""The session timeout these workers run with (CRIMELINK_KAFKA_SESSION_TIMEOUT_SECONDS; Faust's 60 by default): how
long the lost worker's partitions wait for it before the other worker gets them."""


def test_a_worker_elsewhere_takes_over_the_held_incidents_and_the_series_of_one_lost(  # type: ignore[no-untyped-def]
        start_worker, tmp_path: Path) -> None:
    lost = start_worker(CRIMELINK_KAFKA_SESSION_TIMEOUT_SECONDS=str(TAKEOVER))
    # kent, essex, sussex: three forces in two regions -> an alert; GRP-2 has no crime number yet and is held.
    _send(lost, [_group_incident(1, "kent", 0), _group_incident(2, "kent", 10, crime_reference=None),
                 _group_incident(3, "essex", 24), _group_incident(4, "sussex", 40)])
    wait_until(lambda: lost.scalar("SELECT count() FROM alerts") >= 1 and lost.scalar(
        "SELECT count() FROM incidents_latest WHERE eligibility = 'pending'") == 1, timeout=90,
               message="the alert, and GRP-2 held")
    # All four in the lost worker's series before it goes. Not "in the alert": the four reach the correlator in no
    # fixed order (two partitions), and an alert is issued again only when its series spreads, so GRP-2 arriving
    # after the third force left the alert at three (CI, 2026-12-08; issue 23's versioned evidence packages).
    wait_until(lambda: lost.scalar("SELECT max(incident_count) FROM series FINAL") == 4, timeout=60,
               message="all four in the series")

    assert lost.process.process is not None
    machine = [*children_of(lost.process.process.pid), lost.process.process.pid]  # the worker and its intake worker
    for pid in machine:
        os.kill(pid, signal.SIGKILL)
    lost.process.process.wait(10)
    killed = time.monotonic()

    elsewhere = start_worker(home=tmp_path / "another-machine", CRIMELINK_APP_ID=lost.env["CRIMELINK_APP_ID"],
                             CRIMELINK_TOPIC_PREFIX=lost.env["CRIMELINK_TOPIC_PREFIX"],
                             CRIMELINK_CLICKHOUSE_DSN=lost.env["CRIMELINK_CLICKHOUSE_DSN"],  # the store both reach
                             CRIMELINK_KAFKA_SESSION_TIMEOUT_SECONDS=str(TAKEOVER))
    assert elsewhere.home != lost.home
    with Publisher(elsewhere.bootstrap) as publisher:
        publisher.send(elsewhere.topics.crime_number_updates, json.dumps(
            {"retailer": "northway", "incident_id": "GRP-2", "crime_reference": "46/KT/000002/25"}).encode(),
            key=b"northway:GRP-2")
    wait_until(lambda: elsewhere.scalar("SELECT eligibility FROM incidents_latest WHERE incident_id = 'GRP-2'")
               == "referable", timeout=240, message="GRP-2 released by the gate's recovered state")
    released = time.monotonic() - killed
    _send(elsewhere, [_group_incident(5, "durham", 60), _group_incident(6, "northumbria", 70)])
    wait_until(lambda: elsewhere.scalar("SELECT max(level) FROM alerts") == 3, timeout=240,
               message="the series escalated by the recovered correlator")
    escalated = time.monotonic() - killed
    alerts = [Alert.model_validate_json(value)
              for _, value in read_topic(elsewhere.bootstrap, elsewhere.topics.alerts, expect=10, timeout=8)]
    issued = [(alert.alert_id, alert.level, alert.status) for alert in alerts]
    assert len(set(issued)) == len(issued), issued  # none repeated
    assert {alert.alert_id for alert in alerts} == {alerts[0].alert_id}  # one series, the one the lost worker held
    assert [alert.level for alert in alerts if alert.status != "revised"] == [1, 2, 3]
    assert alerts[-1].incident_count == 6 and alerts[-1].referable_count == 6
    assert released > TAKEOVER / 2  # the lost worker's partitions waited for it (from its last heartbeat)
    print(f"\nafter the machine was lost: the held incident released {released:.1f} s later, the series escalated "
          f"{escalated:.1f} s later, by a worker started elsewhere at once")
