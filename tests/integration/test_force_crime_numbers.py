"""A force enters the crime number it issued, through the worker: only its own forces' incidents, only its own
numbers, and the incident then says the number came from the force and who entered it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import RunningWorker, grocer_record, wait_until
from tests.integration.test_access import call, logged
from tests.integration.test_correlation import _send, _store_in

pytestmark = pytest.mark.integration

KENT_NUMBER = "46/KT/012345/25"


def _pending(incident_id: str, force: str, reference: str | None = None) -> dict[str, Any]:
    return grocer_record(incident={"id": incident_id, "revision": 1}, store={"id": _store_in(force)},
                         police={"crime_reference": reference})


def _enter(worker: RunningWorker, user: str, incident_id: str, reference: str, **extra: str) -> Any:
    return call(worker, f"/api/incidents/northway/{incident_id}/crime-number", method="POST", token=user,
                headers={"Content-Type": "application/json"},
                body=json.dumps({"crime_reference": reference, **extra}).encode())


def _crime_numbers(worker: RunningWorker) -> dict[str, tuple[str, str | None, str, str]]:
    rows = worker.query("SELECT incident_id, eligibility, crime_ref_normalised, crime_ref_source, crime_ref_via "
                        "FROM incidents_latest").rows
    return {row[0]: tuple(row[1:]) for row in rows}  # type: ignore[misc]


def test_a_force_enters_its_crime_number_and_the_incident_says_so(start_worker) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    _send(worker, [_pending("K-1", "kent"), _pending("K-2", "kent", KENT_NUMBER), _pending("K-3", "kent"),
                   _pending("D-1", "durham")])
    wait_until(lambda: {key: value[0] for key, value in _crime_numbers(worker).items()} == {
        "K-1": "pending", "K-2": "referable", "K-3": "pending", "D-1": "pending"}, message="three pending, one referable")

    refusals = {
        "another force's incident is not found": _enter(worker, "durham-liaison", "K-1", KENT_NUMBER),
        "nor one that does not exist": _enter(worker, "kent-liaison", "NOPE", KENT_NUMBER),
        "a number another force issued": _enter(worker, "kent-liaison", "K-1", "DU/1234567/25", force_id="durham"),
        "not a Kent crime number": _enter(worker, "kent-liaison", "K-1", "12345678"),
        "already referable": _enter(worker, "kent-liaison", "K-2", "46/KT/099999/25"),
        "an analyst is not a force": _enter(worker, "analyst", "K-1", KENT_NUMBER),
        "nor is a retailer": _enter(worker, "quikmart-dev", "K-1", KENT_NUMBER),
    }
    assert {why: answer.status for why, answer in refusals.items()} == {
        "another force's incident is not found": 404, "nor one that does not exist": 404,
        "a number another force issued": 403, "not a Kent crime number": 422, "already referable": 409,
        "an analyst is not a force": 403, "nor is a retailer": 403}
    assert "46/XX/012345/25" in refusals["not a Kent crime number"].json()["error"]  # the force's format, to fix it

    entered = _enter(worker, "kent-liaison", "K-1", " 46/kt/012345/25 ")
    assert entered.status == 202, entered.body
    assert entered.json() | {"was": "?"} == {
        "retailer": "northway", "incident_id": "K-1", "crime_reference": KENT_NUMBER, "force_id": "kent",
        "source": "force", "entered_by": "kent-liaison", "was": "?", "status": "sent to the crime-number gate"}
    by_cli = subprocess.run([sys.executable, "-m", "crimelink.cli", "crime-number", "northway", "K-3", "46/KT/054321/25",
                             "--as-force"], env={**worker.env, "CRIMELINK_TOKEN": worker.tokens["kent-liaison"]},
                            capture_output=True, text=True, timeout=60)
    assert by_cli.returncode == 0, by_cli.stderr
    assert "entered by kent-liaison" in by_cli.stdout

    wait_until(lambda: _crime_numbers(worker)["K-1"][0] == "referable" and _crime_numbers(worker)["K-3"][0] ==
               "referable", message="both released by the force's numbers")
    numbers = _crime_numbers(worker)
    assert numbers["K-1"][:3] == ("referable", KENT_NUMBER, "force")
    assert numbers["K-1"][3] == "crimelink's web server from force user kent-liaison"
    assert numbers["K-3"][:3] == ("referable", "46/KT/054321/25", "force")
    assert numbers["K-2"][2] == "retailer-report" and numbers["D-1"][:2] == ("pending", None)  # nothing else moved

    rows = logged(worker, lambda row: row["object"] == "northway:K-3", action="force-crime-number")
    outcomes = sorted((row["principal"], row["object"], row["outcome"]) for row in rows)
    # once each, though written with the gate command and again as the answer left (the same event, kept once)
    assert outcomes.count(("kent-liaison", "northway:K-1", "ok")) == 1
    assert outcomes.count(("kent-liaison", "northway:K-3", "ok")) == 1
    assert ("durham-liaison", "northway:K-1", "refused") in outcomes
    assert all(row["category"] == "alteration" for row in rows if row["outcome"] == "ok")
