"""The gateway's plain parts: screening a record as the worker will, the rate per retailer, the answer book, body
splitting, and the published contracts (feed schemas, OpenAPI) kept in step with the code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from crimelink.gateway.answers import AnswerBook, Entry, record_key, request_key
from crimelink.gateway.bodies import BodyError, split_body
from crimelink.gateway.published import OPENAPI_FILE, render_openapi
from crimelink.gateway.rates import RetailerRates
from crimelink.gateway.screening import Screen, record_digest
from crimelink.intake.edges import EventWindow
from crimelink.intake.feed_schemas import example_document, feed_schema, render_feed_schemas
from crimelink.intake.feeds import adapters
from crimelink.intake.stores import StoreRegistry
from tests.conftest import grocer_record

NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def screen() -> Screen:
    return Screen(StoreRegistry.load(), EventWindow(), timedelta(days=14))


def _grocer(**changes: object) -> bytes:
    return json.dumps(grocer_record(**changes)).encode()


def test_a_record_is_screened_as_the_worker_will_take_it(screen: Screen) -> None:
    referable = screen.record("national_grocer", _grocer(), ("northway",), NOW)
    assert referable.accepted and referable.incident is not None
    assert (referable.incident.eligibility.value, referable.deadline) == ("referable", None)
    pending = screen.record("national_grocer", _grocer(police={}), ("northway",), NOW)
    assert pending.incident is not None and pending.incident.eligibility.value == "pending"
    assert pending.deadline == NOW + timedelta(days=14)
    invalid = screen.record("national_grocer", _grocer(police={"crime_reference": "123"}), ("northway",), NOW)
    assert invalid.incident is not None and invalid.incident.eligibility.value == "invalid"
    unknown = screen.record("national_grocer", _grocer(store={"id": "NW9999"}), ("northway",), NOW)
    assert [reason.problem for reason in unknown.reasons] == ["unknown-store"] and not unknown.accepted
    broken = screen.record("national_grocer", b"{not json", ("northway",), NOW)
    assert [reason.problem for reason in broken.reasons] == ["not-json"]


def test_a_record_claiming_another_retailer_is_refused_before_anything_else(screen: Screen) -> None:
    # tillco's token, northway's record whose store is unknown too: the mismatch is the one reason given
    result = screen.record("national_grocer", _grocer(store={"id": "NW9999"}), ("tillco",), NOW)
    assert [(r.field, r.problem, r.value) for r in result.reasons] == [("retailer", "retailer-mismatch", "northway")]
    csv_row = adapters()["bcp_csv"].example.replace(b",tillco,", b",TILLCO,")  # the adapter lower-cases it too
    assert screen.record("bcp_csv", csv_row, ("tillco",), NOW).accepted
    assert screen.record("bcp_csv", csv_row, ("quikmart",), NOW).reasons[0].field == "Member ID"


def test_a_record_digest_ignores_key_order_and_spacing_but_not_content() -> None:
    record = grocer_record()
    assert record_digest("national_grocer", json.dumps(record).encode()) == record_digest(
        "national_grocer", json.dumps(dict(reversed(list(record.items()))), indent=2).encode())
    assert record_digest("national_grocer", json.dumps(record).encode()) != record_digest(
        "national_grocer", json.dumps({**record, "narrative": "other"}).encode())


def test_each_retailer_has_its_own_allowance_refilled_at_its_rate() -> None:
    now = [0.0]
    rates = RetailerRates(rate=10, burst=20, clock=lambda: now[0])
    assert rates.take("a", 20) == 0.0
    assert rates.take("a", 5) == pytest.approx(0.5)  # five records at ten a second
    assert rates.take("b", 20) == 0.0  # another retailer is not held back
    now[0] = 0.5
    assert rates.take("a", 5) == 0.0
    assert rates.take("a", 21) == float("inf")  # more than the burst can ever be sent at once


def test_the_answer_book_gives_the_first_answer_within_its_window() -> None:
    now = [1000.0]
    book = AnswerBook(keep_seconds=60, clock=lambda: now[0])
    key = record_key("northway", "NW-1", 1)
    value = book.put(key, Entry("d1", {"revision": 1, "outcome": "accepted"}, now[0]))
    assert book.get(key) == Entry("d1", {"revision": 1, "outcome": "accepted"}, 1000.0)
    book.put(record_key("northway", "NW-1", 3), Entry("d3", {"revision": 3}, now[0]))
    book.load(record_key("northway", "NW-1", 2), Entry("d2", {"revision": 2}, now[0]).encoded())  # read late
    assert book.incident("northway", "NW-1").digest == "d3"  # type: ignore[union-attr]
    fresh = AnswerBook(keep_seconds=60, clock=lambda: now[0])  # another gateway reading the answers topic
    fresh.load(key, value)
    assert fresh.get(key) == book.get(key)
    fresh.load(key, None)  # a tombstone
    assert fresh.get(key) is None
    now[0] += 61
    assert book.get(key) is None and book.get(request_key("northway", "k")) is None


def test_bodies_are_split_into_one_message_per_record() -> None:
    grocer, csv_feed = adapters()["national_grocer"], adapters()["bcp_csv"]
    one = split_body(grocer, "application/json; charset=utf-8", json.dumps(grocer_record()).encode(), 10)
    assert one.single and json.loads(one.payloads[0]) == grocer_record()
    batch = split_body(grocer, "application/json", json.dumps([grocer_record()] * 3).encode(), 10)
    assert len(batch.payloads) == 3 and not batch.single
    rows = split_body(csv_feed, "text/csv", csv_feed.example + csv_feed.example.split(b"\n", 1)[1], 10)
    assert len(rows.payloads) == 2 and all(payload.startswith(b"Report Ref,") for payload in rows.payloads)
    for body, content_type, status in ((b"[1]", "application/json", 400), (b"[]", "application/json", 400),
                                       (b'"x"', "application/json", 400), (b"{", "application/json", 400),
                                       (b"{}", "text/plain", 415), (json.dumps([{}] * 11).encode(), "application/json",
                                                                    413)):
        with pytest.raises(BodyError) as refused:
            split_body(grocer, content_type, body, 10)
        assert refused.value.status == status, body
    with pytest.raises(BodyError) as refused:
        split_body(csv_feed, "application/json", b"{}", 10)
    assert refused.value.status == 415


@pytest.mark.parametrize("feed_format", sorted(adapters()))
def test_each_feed_format_publishes_a_schema_its_example_meets(feed_format: str) -> None:
    schema = feed_schema(feed_format)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(example_document(feed_format), schema)
    assert schema["x-crimelink-feed-format"] == feed_format


def test_the_committed_schemas_and_api_document_are_current() -> None:
    for path, text in {**render_feed_schemas(), **render_openapi()}.items():
        assert path.read_text() == text, f"{path} is out of date: run 'crimelink schema' and commit it"
    document = json.loads(OPENAPI_FILE.read_text())
    assert set(document["paths"]) == {"/v1/feeds/{feed_format}/records", "/v1/incidents/{incident_id}/crime-number",
                                      "/v1/incidents/{incident_id}", "/v1/backlog"}
    assert "HTTPValidationError" not in json.dumps(document)  # FastAPI's own 422s are answered as 400 problems


def test_the_gateway_refuses_to_listen_beyond_loopback_in_clear() -> None:
    from crimelink.errors import ConfigurationError
    from crimelink.settings import GatewaySettings

    with pytest.raises(ConfigurationError, match="CRIMELINK_GATEWAY_TLS_CERT"):
        GatewaySettings(host="0.0.0.0").check_listen_address()
    GatewaySettings(host="0.0.0.0", allow_insecure=True).check_listen_address()
    GatewaySettings(host="::1").check_listen_address()
    with pytest.raises(ValueError, match="RATE_BURST"):
        GatewaySettings(rate_burst=10, max_batch_records=500)
