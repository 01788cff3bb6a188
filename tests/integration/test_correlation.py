"""Correlation through the real broker: a planted group alerts once and escalates; locals and look-alikes do not;
a worker restart in the middle neither loses nor repeats an alert."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crimelink.intake.stores import StoreRegistry
from crimelink.schemas.correlation import Alert
from crimelink.streams.kafka_io import Publisher, read_topic
from tests.conftest import RunningWorker, grocer_record, wait_until

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=5)
TEAM = [{"gender": "male", "build": "slim", "complexion": "pale", "eye_colour": "blue", "ethnicity": "IC1",
         "features": ["dagger tattoo on left hand"]},
        {"gender": "male", "build": "heavy", "complexion": "fair", "eye_colour": "brown", "ethnicity": "IC1"}]


def _store_in(force: str, number: int = 0) -> str:
    stores = [s for s in StoreRegistry.load().stores_of("northway") if s.force_id == force]
    assert stores, force
    return stores[number % len(stores)].store_id


def _group_incident(number: int, force: str, hours: float, crime_reference: str | None = "valid") -> dict[str, Any]:
    start = T0 + timedelta(hours=hours)
    if crime_reference == "valid":  # Kent has its own format; the others take the generic rule
        crime_reference = f"46/KT/{number:06d}/25" if force == "kent" else f"AB/{12345670 + number}/25"
    return grocer_record(
        incident={"id": f"GRP-{number}", "revision": 1}, store={"id": _store_in(force, number)},
        occurred={"from": start.isoformat()}, tactics=["DST02", "TMS01", "VEH01"],
        loss={"lines": [{"category": "RZR", "description": "Razor blades", "qty": 6, "unit_price_pence": 2800}]},
        offenders={"count": 2, "descriptions": TEAM},
        vehicles=[{"vrm": "KX19 TRV", "make": "Ford", "model": "Transit", "colour": "white"}],
        police={"crime_reference": crime_reference}, narrative="Distraction at the kiosk, lookout, waiting van.",
    )


def _send(worker: RunningWorker, records: list[dict[str, Any]]) -> None:
    with Publisher(worker.bootstrap) as publisher:
        for record in records:
            publisher.send(worker.topics.raw["national_grocer"], json.dumps(record).encode())


def _alerts(worker: RunningWorker, expect: int) -> list[Alert]:
    return [Alert.model_validate_json(value)
            for _, value in read_topic(worker.bootstrap, worker.topics.alerts, expect=expect, timeout=8)]


def test_planted_group_alerts_once_escalates_and_survives_a_restart(start_worker) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    # kent (ersou), essex (ersou), then sussex (serocu): three forces in two regions -> alert level 1.
    group = [_group_incident(1, "kent", 0), _group_incident(2, "kent", 10, crime_reference=None),
             _group_incident(3, "essex", 24), _group_incident(4, "sussex", 40)]
    local = [grocer_record(incident={"id": f"LOC-{n}", "revision": 1}, store={"id": _store_in("durham", n)},
                           occurred={"from": (T0 + timedelta(hours=12 * n)).isoformat()},
                           vehicles=[{"vrm": "DU15 LOC"}], offenders={"count": 1, "descriptions": []})
             for n in range(6)]
    lookalikes = [grocer_record(incident={"id": f"LKA-{n}", "revision": 1}, store={"id": _store_in(force)},
                                occurred={"from": (T0 + timedelta(hours=5 + 9 * n)).isoformat()},
                                tactics=["DST02", "TMS01", "VEH01"], vehicles=[],
                                offenders={"count": 2, "descriptions": [
                                    {"gender": "female", "build": "medium", "complexion": "dark", "eye_colour": "green",
                                     "ethnicity": "IC3"}]})
                  for n, force in enumerate(["cumbria", "dorset", "gwent", "lincolnshire", "norfolk"])]
    _send(worker, [*group, *local, *lookalikes])

    wait_until(lambda: worker.scalar("SELECT count() FROM alerts") >= 1, timeout=60, message="the first alert")
    (first,) = _alerts(worker, expect=1)
    assert first.level == 1 and first.status == "raised"
    assert first.forces == ["essex", "kent", "sussex"] and first.regions == ["ersou", "serocu"]
    # Incidents cross two partitions before correlation, so the alert may be raised before GRP-1 or GRP-2 (both
    # kent) arrived. The lead is the force with the most referable incidents, then the most incidents, then the first.
    included = {entry["incident_id"] for part in ("evidence", "awaiting_crime_number") for entry in first.evidence[part]}
    assert first.incident_count == len(included) and {"GRP-3", "GRP-4"} <= included and included & {"GRP-1", "GRP-2"}
    assert first.lead_force == ("kent" if "GRP-1" in included else "essex") and "referable" in first.lead_reason

    wait_until(lambda: worker.scalar("SELECT count() FROM series FINAL WHERE has(members, 'northway:LOC-0')"),
               message="the local offender's series")
    local_series = worker.query("SELECT forces FROM series FINAL WHERE has(members, 'northway:LOC-0')").rows
    assert local_series == [(["durham"],)]
    joined = worker.scalar("SELECT countIf(arrayExists(m -> m LIKE 'northway:LKA-%', members)) FROM series FINAL")
    assert joined == 0  # look-alikes share the MO, not the people or the vehicle

    worker.restart()
    # Two more incidents in a new region (nersou) after the restart: escalate, do not repeat.
    _send(worker, [_group_incident(5, "durham", 60), _group_incident(6, "northumbria", 70)])
    wait_until(lambda: worker.scalar("SELECT max(level) FROM alerts") == 3, timeout=90, message="two escalations")
    alerts = _alerts(worker, expect=4)  # expects one more than should exist: a repeated alert would show up here
    assert [(alert.alert_id, alert.level) for alert in alerts] == [(first.alert_id, level) for level in (1, 2, 3)]
    assert alerts[1].status == "escalated" and "nersou" in alerts[1].regions
    wait_until(lambda: worker.scalar("SELECT count() FROM alerts FINAL WHERE level >= 2") == 1,
               message="the escalation in ClickHouse")
    assert worker.scalar("SELECT count() FROM alerts FINAL") == 1  # one alert per series, escalated in place

    latest = alerts[-1]
    assert latest.incident_count == 6 and latest.referable_count == 5 and latest.lead_force == "kent"
    package = latest.evidence
    assert [entry["incident_id"] for entry in package["awaiting_crime_number"]] == ["GRP-2"]
    assert {entry["incident_id"] for entry in package["evidence"]} == {"GRP-1", "GRP-3", "GRP-4", "GRP-5", "GRP-6"}
    assert package["vehicles"][0]["registration"] == "KX19TRV"
    assert any("same vehicle KX19TRV" in why for link in package["links"] for why in link["why"])

    request = urllib.request.Request(f"{worker.process.web_url}/alerts/{first.alert_id}/evidence",
                                     headers={"Authorization": f"Bearer {worker.tokens['kent-liaison']}",
                                              "X-Justification": "pytest: the lead force reads the package"})
    with urllib.request.urlopen(request, timeout=10) as response:
        page = response.read().decode()
    assert "KX19TRV" in page and "Suggested lead force" in page and "Awaiting a crime number" in page


def example_queries() -> dict[str, str]:
    text = (Path(__file__).resolve().parents[2] / "deploy" / "queries" / "examples.sql").read_text()
    queries = {}
    for block in text.split("-- name: ")[1:]:
        name, _, body = block.partition("\n")
        queries[name.strip()] = body.strip()
    return queries


def test_every_example_analyst_query_runs_on_pipeline_data(start_worker) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    _send(worker, [_group_incident(1, "kent", 0), _group_incident(2, "kent", 10, crime_reference=None),
                   _group_incident(3, "essex", 24), _group_incident(4, "sussex", 40)])
    wait_until(lambda: worker.scalar("SELECT count() FROM alerts") >= 1, timeout=60, message="an alert")
    wait_until(lambda: worker.scalar("SELECT count() FROM retailer_backlog") >= 1, message="the pending backlog")
    queries = example_queries()
    assert len(queries) == 7
    results = {name: worker.query(sql) for name, sql in queries.items()}
    assert all(result.rows for result in results.values()), {n: len(r.rows) for n, r in results.items()}
    vehicles = results["vehicles_seen_in_several_forces"].as_dicts()
    assert vehicles[0]["registration"] == worker.scalar("SELECT pseudonym('registration', 'KX19 TRV')")  # not in clear
    assert vehicles[0]["forces"] == 3
    assert [row["incident_id"] for row in results["incidents_of_one_registration"].as_dicts()] == [
        "GRP-1", "GRP-2", "GRP-3", "GRP-4"]
    timeline = results["series_timeline"].as_dicts()
    assert [row["incident_id"] for row in timeline] == ["GRP-1", "GRP-2", "GRP-3", "GRP-4"]
    assert results["pending_backlog_per_retailer"].as_dicts()[0]["current_status"] == "pending"
    # the recipe the file's header gives, as an analyst types it (it once failed: the SQL starts with "--")
    examples = Path(__file__).resolve().parents[2] / "deploy" / "queries" / "examples.sql"
    recipe = examples.read_text().splitlines()[1].removeprefix("-- ")
    ran = subprocess.run(["bash", "-c", f"{recipe} --format json"], cwd=examples.parents[2], capture_output=True,
                         text=True, timeout=120, env={**worker.env, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stderr
    assert {row["region_id"] for row in json.loads(ran.stdout)} == {"ersou", "serocu"}  # kent, essex | sussex
