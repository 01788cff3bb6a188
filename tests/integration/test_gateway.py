"""The retailer gateway through the real broker and a real worker: what it accepts is on the raw topic and stored,
what it rejects is never published, a retailer submits only as itself, and a resend is answered as before without
being published twice."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer

from crimelink.intake.feeds import adapters
from tests.conftest import RunningGateway, RunningWorker, grocer_record, wait_until
from tests.integration.test_access import logged

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    running = RunningWorker(kafka_bootstrap, tmp_path_factory.mktemp("gateway-worker")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def gateway(worker: RunningWorker) -> Iterator[RunningGateway]:
    running = RunningGateway(worker).start()
    yield running
    running.stop()


def _id(prefix: str = "GW") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _grocer(incident_id: str, **changes: Any) -> dict[str, Any]:
    return grocer_record(incident={"id": incident_id, "revision": 1, "reported_at": "2025-03-01T10:22:00Z"}, **changes)


def _post(gateway: RunningGateway, retailer: str, body: Any, feed: str = "national_grocer",
          **headers: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/feeds/{feed}/records", json=body, timeout=30,
                      headers=gateway.headers(retailer, **headers))


def _raw_messages(worker: RunningWorker, feed: str, marker: str) -> list[tuple[int, int, dict[str, Any], dict[str, bytes]]]:
    """(partition, offset, record, headers) of every message on the feed's raw topic whose text holds ``marker``."""
    consumer = KafkaConsumer(worker.topics.raw[feed], bootstrap_servers=worker.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=3000)
    try:
        return [(message.partition, message.offset, json.loads(message.value), dict(message.headers))
                for message in consumer if marker.encode() in message.value]
    finally:
        consumer.close()


def test_accepted_records_are_on_the_topic_and_stored_and_rejected_ones_are_never_published(
        worker: RunningWorker, gateway: RunningGateway) -> None:
    marker = _id("MIX")
    good = [_grocer(f"{marker}-{n}") for n in range(3)]
    pending = _grocer(f"{marker}-pending", police={})
    unknown_store = _grocer(f"{marker}-nostore", store={"id": "NW9999"})
    future = _grocer(f"{marker}-future", occurred={"from": "2999-01-01T10:00:00+00:00"})
    response = _post(gateway, "northway", [*good, pending, unknown_store, future])
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"], answer["retailer"]) == (4, 2, "northway")
    outcomes = {record["incident_id"]: record for record in answer["records"]}
    assert [record["index"] for record in answer["records"]] == list(range(6))
    assert {outcomes[f"{marker}-{n}"]["expected_status"] for n in range(3)} == {"referable"}
    assert outcomes[f"{marker}-pending"]["expected_status"] == "pending"
    assert outcomes[f"{marker}-pending"]["deadline"] is not None
    assert [reason["problem"] for reason in outcomes[f"{marker}-nostore"]["reasons"]] == ["unknown-store"]
    assert [reason["problem"] for reason in outcomes[f"{marker}-future"]["reasons"]] == ["in-the-future"]

    # exactly the accepted records are on the raw topic, where the answers say, stamped with who sent them
    published = _raw_messages(worker, "national_grocer", marker)
    assert sorted((p, o) for p, o, _, _ in published) == sorted(
        (record["partition"], record["offset"]) for record in answer["records"] if record["outcome"] == "accepted")
    assert {record["incident"]["id"] for _, _, record, _ in published} == {
        f"{marker}-0", f"{marker}-1", f"{marker}-2", f"{marker}-pending"}
    assert {headers["crimelink-user"] for _, _, _, headers in published} == {b"northway-dev"}

    stored = wait_until(lambda: worker.query(
        "SELECT incident_id, eligibility FROM incidents_latest WHERE incident_id LIKE {m:String} ORDER BY incident_id",
        m=f"{marker}%").rows if len(worker.query("SELECT incident_id FROM incidents_latest WHERE incident_id LIKE "
                                                 "{m:String}", m=f"{marker}%").rows) == 4 else None, 60)
    assert dict(stored) == {f"{marker}-0": "referable", f"{marker}-1": "referable", f"{marker}-2": "referable",
                            f"{marker}-pending": "pending"}
    collected = logged(worker, lambda row: marker in row["object"], action="gateway-records")
    assert [(row["principal"], row["category"], row["rows"], row["detail"]) for row in collected
            if marker in row["object"]] == [("northway-dev", "collection", 4, "4 accepted (0 resent), 2 rejected")]


def test_a_retailer_submits_only_as_itself(worker: RunningWorker, gateway: RunningGateway) -> None:
    marker = _id("OWN")
    response = _post(gateway, "tillco", _grocer(marker))  # tillco's token, northway's record
    assert response.status_code == 202
    [record] = response.json()["records"]
    assert record["outcome"] == "rejected"
    assert [(r["field"], r["problem"], r["value"]) for r in record["reasons"]] == [
        ("retailer", "retailer-mismatch", "northway")]
    # another retailer's incident: no status, no crime number, no backlog
    accepted = _post(gateway, "northway", _grocer(f"{marker}-n", police={})).json()["records"][0]
    assert accepted["outcome"] == "accepted"
    other = gateway.headers("tillco")
    assert httpx.get(f"{gateway.url}/v1/incidents/{marker}-n", headers=other).status_code == 404
    assert httpx.get(f"{gateway.url}/v1/incidents/{marker}-n", params={"retailer": "northway"},
                     headers=other).status_code == 403
    refused = httpx.post(f"{gateway.url}/v1/incidents/{marker}-n/crime-number", headers=other,
                         json={"crime_reference": "DY/012345/25", "retailer": "northway"})
    assert refused.status_code == 403
    assert httpx.get(f"{gateway.url}/v1/backlog", params={"retailer": "northway"}, headers=other).status_code == 403
    # and the worker behind it keeps to the token's retailer too, whoever calls it
    worker_url = f"http://127.0.0.1:{worker.web_port}"
    assert httpx.get(f"{worker_url}/api/feedback/northway/{marker}-n", headers=other).status_code == 403
    assert httpx.get(f"{worker_url}/api/backlog", params={"retailer": "northway"}, headers=other).status_code == 403
    # tokens that are not a retailer's, or none
    assert _post(gateway, "analyst", _grocer(_id())).status_code == 403
    anonymous = httpx.post(f"{gateway.url}/v1/feeds/national_grocer/records", json=_grocer(_id()))
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"
    forged = httpx.post(f"{gateway.url}/v1/feeds/national_grocer/records", json=_grocer(_id()),
                        headers={"Authorization": "Bearer crl_0123456789abcdef_" + "A" * 43})
    assert forged.status_code == 401
    assert [record["incident"]["id"] for _, _, record, _ in _raw_messages(worker, "national_grocer", marker)] == [
        f"{marker}-n"]


def test_a_resend_gets_the_first_answer_and_is_not_published_twice(worker: RunningWorker,
                                                                   gateway: RunningGateway) -> None:
    marker = _id("RESEND")
    record = _grocer(marker)
    first = _post(gateway, "northway", record).json()["records"][0]
    reordered = dict(reversed(list(record.items())))  # the same record, its keys in another order
    again = _post(gateway, "northway", [reordered, record]).json()["records"]
    assert [answer["resent"] for answer in again] == [True, True]
    assert {(a["partition"], a["offset"]) for a in again} == {(first["partition"], first["offset"])}
    twice = _post(gateway, "northway", [_grocer(f"{marker}-twice")] * 2).json()["records"]  # twice in one request
    assert [answer["resent"] for answer in twice] == [False, True] and twice[0]["offset"] == twice[1]["offset"]
    changed = _post(gateway, "northway", _grocer(marker, narrative="something else")).json()["records"][0]
    assert [reason["problem"] for reason in changed["reasons"]] == ["revision-reused"]
    assert len(_raw_messages(worker, "national_grocer", marker)) == 2  # the record and the -twice one

    # an Idempotency-Key: the same request, the same answer (marked replayed); another request with it: refused
    key = str(uuid.uuid4())
    body = [_grocer(f"{marker}-k")]
    one = _post(gateway, "northway", body, **{"Idempotency-Key": key})
    two = _post(gateway, "northway", body, **{"Idempotency-Key": key})
    assert one.json() == two.json() and two.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in one.headers
    reused = _post(gateway, "northway", [_grocer(f"{marker}-other")], **{"Idempotency-Key": key})
    assert reused.status_code == 422

    # another gateway process (a restart, or the next one behind the load balancer) knows the answers too
    second = RunningGateway(worker).start()
    try:
        later = httpx.post(f"{second.url}/v1/feeds/national_grocer/records", json=record, timeout=30,
                           headers=second.headers("northway")).json()["records"][0]
        assert later == {**first, "resent": True}
        replay = httpx.post(f"{second.url}/v1/feeds/national_grocer/records", json=body, timeout=30,
                            headers=second.headers("northway", **{"Idempotency-Key": key}))
        assert replay.json() == one.json()
    finally:
        second.stop()
    assert len(_raw_messages(worker, "national_grocer", marker)) == 3  # the record, the -twice and the -k one


def test_crime_numbers_status_and_backlog(worker: RunningWorker, gateway: RunningGateway) -> None:
    marker = _id("CRIME")
    headers = gateway.headers("northway")
    for n in range(3):
        assert _post(gateway, "northway", _grocer(f"{marker}-{n}", police={})).json()["accepted"] == 1
    status = httpx.get(f"{gateway.url}/v1/incidents/{marker}-0", headers=headers).json()
    assert status["status"] in ("received", "pending") and status["referable"] is False
    wait_until(lambda: httpx.get(f"{gateway.url}/v1/incidents/{marker}-2", headers=headers).json()["status"]
               == "pending", 60)
    pending = httpx.get(f"{gateway.url}/v1/incidents/{marker}-0", headers=headers).json()
    assert pending["missing"].startswith("send the crime number") and pending["deadline"]

    # an incident never reported, and a number that is not a crime number: refused, and nothing sent
    missing = httpx.post(f"{gateway.url}/v1/incidents/{marker}-none/crime-number", headers=headers,
                         json={"crime_reference": "DY/012345/25"})
    assert missing.status_code == 404
    log_number = httpx.post(f"{gateway.url}/v1/incidents/{marker}-0/crime-number", headers=headers,
                            json={"crime_reference": "INC 4411"})
    assert log_number.status_code == 422 and log_number.json()["errors"][0]["problem"] == "incident-number"
    sent = httpx.post(f"{gateway.url}/v1/incidents/{marker}-0/crime-number", headers=headers,
                      json={"crime_reference": "sx-012345-25"})
    assert sent.status_code == 202, sent.text
    assert (sent.json()["crime_reference"], sent.json()["force_id"]) == ("SX/012345/25", "sussex")
    resent = httpx.post(f"{gateway.url}/v1/incidents/{marker}-0/crime-number", headers=headers,
                        json={"crime_reference": "SX/012345/25"})
    assert resent.json() == {**sent.json(), "resent": True}
    updates = [json.loads(value) for _, value, _ in _read(worker, worker.topics.crime_number_updates)
               if marker.encode() in value]
    assert [update["incident_id"] for update in updates] == [f"{marker}-0"]
    referable = wait_until(lambda: (s := httpx.get(f"{gateway.url}/v1/incidents/{marker}-0", headers=headers).json())
                           ["status"] == "referable" and s, 60)
    assert [change["status"] for change in referable["history"]] == ["pending", "referable"]

    # the backlog: the two still pending, a page at a time
    def backlog(**query: Any) -> dict[str, Any]:
        found = httpx.get(f"{gateway.url}/v1/backlog", headers=headers, params={"status": "pending", **query})
        assert found.status_code == 200, found.text
        return found.json()

    mine = [item for item in backlog(limit=1000)["items"] if item["incident_id"].startswith(marker)]
    assert sorted(item["incident_id"] for item in mine) == [f"{marker}-1", f"{marker}-2"]
    page = backlog(limit=1)
    assert len(page["items"]) == 1 and page["next_offset"] == 1
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert backlog(since="1h")["items"] and backlog(since=later)["items"] == []
    assert all(item["status"] == "expired" for item in backlog(status="expired")["items"])
    assert httpx.get(f"{gateway.url}/v1/backlog", headers=headers, params={"status": "lost"}).status_code == 400


def test_limits_answer_413_429_and_400(worker: RunningWorker, tmp_path: Path) -> None:
    limited = RunningGateway(worker, CRIMELINK_GATEWAY_MAX_BATCH_RECORDS="5", CRIMELINK_GATEWAY_RATE_BURST="6",
                             CRIMELINK_GATEWAY_RATE_PER_SECOND="0.5", CRIMELINK_GATEWAY_MAX_BODY_MIB="2").start()
    try:
        marker = _id("LIMIT")
        url = f"{limited.url}/v1/feeds/national_grocer/records"
        headers = limited.headers("northway")
        huge = _grocer(f"{marker}-huge", narrative="x" * 9_000, loss={"lines": [
            {"category": "ALC", "description": "y" * 1_000, "qty": 1, "unit_price_pence": 1}] * 1_100})
        too_large = httpx.post(url, json=huge, headers=headers)
        assert too_large.status_code == 413 and too_large.json()["limit"] == 1_000_000
        body = httpx.post(url, content=b"[" + b" " * (3 * 1024 * 1024) + b"]", headers={
            **headers, "Content-Type": "application/json"})
        assert body.status_code == 413 and body.json()["limit"] == 2 * 1024 * 1024
        many = httpx.post(url, json=[_grocer(f"{marker}-{n}") for n in range(6)], headers=headers)
        assert many.status_code == 413 and many.json()["limit"] == 5
        assert httpx.post(url, json=[_grocer(f"{marker}-{n}") for n in range(5)], headers=headers).status_code == 202
        limited_now = httpx.post(url, json=[_grocer(f"{marker}-a"), _grocer(f"{marker}-b")], headers=headers)
        assert limited_now.status_code == 429
        assert 1 <= int(limited_now.headers["Retry-After"]) <= 4
        # tillco has its own allowance
        assert httpx.post(url, json=[], headers=limited.headers("tillco")).status_code == 400
        for malformed, content_type in ((b"{not json", "application/json"), (b"[1, 2]", "application/json"),
                                        (b'"a string"', "application/json"), (b"a,b\n1,2", "text/csv")):
            answer = httpx.post(url, content=malformed, headers={**headers, "Content-Type": content_type})
            assert answer.status_code in (400, 415) and answer.json()["detail"], malformed
        assert "Traceback" not in limited.log()
    finally:
        limited.stop()


def test_every_feed_format_is_taken_in_its_own_media_type(worker: RunningWorker, gateway: RunningGateway) -> None:
    for name, adapter in sorted(adapters().items()):
        retailer = {"national_grocer": "northway", "convenience_flat": "quikmart", "bcp_csv": "tillco"}[name]
        content_type = "text/csv" if adapter.encoding == "csv" else "application/json"
        answer = httpx.post(f"{gateway.url}/v1/feeds/{name}/records", content=adapter.example,
                            headers=gateway.headers(retailer, **{"Content-Type": content_type}))
        assert answer.status_code == 202, answer.text
        assert answer.json()["records"][0]["outcome"] == "accepted", answer.text


def _read(worker: RunningWorker, topic: str) -> list[tuple[bytes | None, bytes, int]]:
    from tests.conftest import read_records

    return read_records(worker.bootstrap, topic)
