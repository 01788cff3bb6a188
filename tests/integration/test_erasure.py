"""``crimelink erase``: one incident out of every table, the gate's and the correlator's changelog state, its series
and its series' alert, through the real worker; the erasure itself in the access log."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from kafka import KafkaAdminClient

from crimelink.cli.query_client import call_worker
from crimelink.errors import QueryError
from crimelink.sinks.tables import ALL, HIDDEN_FROM_ANALYSTS
from crimelink.streams.kafka_auth import client_options
from tests.conftest import RunningWorker, read_records, wait_until
from tests.integration.test_access import audit_rows, logged
from tests.integration.test_correlation import _group_incident, _send

pytestmark = pytest.mark.integration

ERASED, PLATE = "GRP-2", "ER45ASE"  # the incident, and a registration only it shows


def _changelog_state(worker: RunningWorker) -> dict[str, dict[bytes, bytes]]:
    """Each changelog of the worker's app as its state now stands: the latest value per key, tombstones dropped."""
    admin = KafkaAdminClient(**client_options(worker.bootstrap))
    try:
        topics = [t for t in admin.list_topics() if t.startswith(worker.env["CRIMELINK_APP_ID"]) and t.endswith("-changelog")]
    finally:
        admin.close()
    state: dict[str, dict[bytes, bytes]] = {}
    for topic in topics:
        latest: dict[bytes, bytes | None] = {}
        for key, value, _ in read_records(worker.bootstrap, topic):
            latest[key or b""] = value
        state[topic] = {key: value for key, value in latest.items() if value is not None}
    return state


def _mentions(worker: RunningWorker, text: str) -> dict[str, int]:
    """Rows of each table (the access log apart) that hold ``text`` anywhere."""
    found = {}
    for table in ALL:
        if table.name in HIDDEN_FROM_ANALYSTS or table.name == "schema_migrations":
            continue  # incident_identities: see the second erasure below
        found[table.name] = int(worker.scalar(f"SELECT count() FROM {table.name} "
                                              f"WHERE position(formatRow('TSV', *), {{text:String}}) > 0", text=text))
    return {name: count for name, count in found.items() if count}


def _erase(worker: RunningWorker, token: str, reason: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crimelink.cli", "erase", "--retailer", "northway", "--incident", ERASED,
                           "--reason", reason], env={**worker.env, "CRIMELINK_TOKEN": token},
                          capture_output=True, text=True, timeout=120, check=False)


def test_an_erased_incident_is_nowhere_and_its_series_alert_is_revised(start_worker) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    erased: dict[str, Any] = _group_incident(2, "kent", 10, crime_reference=None)  # pending: held by the gate
    erased["vehicles"] = [*erased["vehicles"], {"vrm": "ER45 ASE", "make": "Vauxhall", "model": "Astra"}]
    _send(worker, [_group_incident(1, "kent", 0), erased, _group_incident(3, "essex", 24),
                   _group_incident(4, "sussex", 40)])
    wait_until(lambda: worker.scalar("SELECT count() FROM alerts") >= 1, message="the team's alert")
    wait_until(lambda: worker.scalar("SELECT max(incident_count) FROM series FINAL") == 4, message="4 in the series")
    assert _mentions(worker, ERASED)  # the checks below can see it where it is
    # The plate is a pseudonym in the analysts' tables, and in the alert's evidence only if the incident reached the
    # correlator before the alert was raised; its clear home is incident_identities, read through the incident page.
    assert "ER45ASE" in call_worker(worker.settings, f"/api/incidents/northway/{ERASED}")["vehicle_registrations"]
    state = _changelog_state(worker)
    assert any(ERASED.encode() in key + value for topic in state.values() for key, value in topic.items())

    refused = _erase(worker, worker.tokens["analyst"], "DPA s.47 request 2026/118")  # only an administrator may
    assert refused.returncode != 0 and "may not" in refused.stderr
    done = _erase(worker, worker.tokens["admin"], "DPA s.47 request 2026/118")
    assert done.returncode == 0, done.stderr
    assert "erased northway:GRP-2" in done.stdout and "from incidents," in done.stdout
    assert "from incident_identities" in done.stdout  # the restricted table, which analysts' SQL cannot read
    again = _erase(worker, worker.tokens["admin"], "DPA s.47 request 2026/118: checking")
    assert again.returncode == 0 and "no stored row named it" in again.stdout, again.stdout

    assert _mentions(worker, ERASED) == {} and _mentions(worker, PLATE) == {}
    with pytest.raises(QueryError, match="no incident"):
        call_worker(worker.settings, f"/api/incidents/northway/{ERASED}")
    wait_until(lambda: not any(ERASED.encode() in key + value or PLATE.encode() in value
                               for topic in _changelog_state(worker).values() for key, value in topic.items()),
               timeout=30, message="no changelog state left naming the incident")
    [(status, count, evidence)] = worker.query("SELECT status, incident_count, evidence_json FROM alerts FINAL").rows
    assert (status, count) == ("revised", 3)
    assert sorted(entry["incident_id"] for entry in json.loads(evidence)["evidence"]) == ["GRP-1", "GRP-3", "GRP-4"]
    [(members,)] = worker.query("SELECT members FROM series FINAL").rows
    assert list(members) == ["northway:GRP-1", "northway:GRP-3", "northway:GRP-4"]

    # The erasure is in the access log, by whom and why; the log names the incident, never its registration.
    rows = logged(worker, lambda row: row["outcome"] == "ok", action="erase")
    assert sorted((row["principal"], row["category"], row["justification"]) for row in rows if row["outcome"] == "ok") \
        == [("admin", "erasure", "DPA s.47 request 2026/118"), ("admin", "erasure", "DPA s.47 request 2026/118: checking")]
    assert any("rows removed" in row["detail"] for row in rows)
    assert ("analyst", "refused") in [(row["principal"], row["outcome"]) for row in rows]
    assert not any(PLATE in json.dumps(row) for row in audit_rows(worker, limit="100000"))

    # Sent again, the record is an incident never seen: the gate holds it afresh (nothing was left to say otherwise).
    _send(worker, [erased])
    wait_until(lambda: worker.scalar("SELECT count() FROM incidents WHERE incident_id = {i:String}", i=ERASED) == 1,
               message="the resent record stored afresh")
