import json
from typing import Any

import pytest

from crimelink.intake.feeds import adapters
from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.referral.gate import apply_gate
from crimelink.schemas.incident import CrimeNumberStatus, Eligibility, Incident
from crimelink.schemas.outcomes import DeadLetter
from tests.conftest import grocer_record, now_utc


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return Normaliser(StoreRegistry.load())


def _run(normaliser: Normaliser, payload: bytes | dict[str, Any], feed: str = "national_grocer") -> Incident | DeadLetter:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return normaliser.normalise(RawRecord(feed, raw, "raw.national_grocer", 1, 42, now_utc()))


def test_a_complete_grocer_record_becomes_a_canonical_incident(normaliser: Normaliser) -> None:
    incident = _run(normaliser, grocer_record())
    assert isinstance(incident, Incident)
    assert (incident.retailer, incident.incident_id, incident.revision) == ("northway", "NW-2025-TEST-1", 1)
    assert (incident.store.force_id, incident.store.region_id) == ("sussex", "serocu")
    assert incident.occurred.start.isoformat() == "2025-03-01T09:40:00+00:00"
    assert [(g.category, g.quantity, g.value_pence) for g in incident.goods] == [("ALCOHOL", 4, 10000), ("RAZORS", 2, 5600)]
    assert incident.total_value_pence == 15600
    codes = [t.code for t in incident.tactics]
    assert codes[:2] == ["DIST-ALARM", "TEAM-LOOKOUT"]  # coded first, in the feed's order
    assert {"SWEEP-BAG", "CONC-FOIL"} <= set(codes)  # then found in the narrative
    assert incident.vehicles[0].registration == "AB12CDE" and incident.vehicles[0].make == "Ford"
    assert incident.offenders.count == 2 and incident.offenders.descriptions[0].descriptor_count == 5
    assert incident.threats and not incident.violence and incident.cctv_available
    assert incident.crime_reference.status is CrimeNumberStatus.UNCHECKED
    assert incident.source is not None and incident.source.offset == 42


def test_the_gate_sets_eligibility_from_the_crime_number(normaliser: Normaliser) -> None:
    incident = _run(normaliser, grocer_record())
    assert isinstance(incident, Incident)
    checked = apply_gate(incident)
    assert checked.eligibility is Eligibility.REFERABLE
    assert checked.crime_reference.normalised == "SX/12345678/25"
    pending = apply_gate(incident.model_copy(update={"crime_reference": incident.crime_reference.model_copy(
        update={"raw": "INC 123"})}))
    assert pending.eligibility is Eligibility.PENDING and "incident or log number" in pending.eligibility_reason


@pytest.mark.parametrize(
    "payload,field,problem",
    [
        (b"{not json", "$", "not-json"),
        (b"\xff\xfe\x00garbage", "$", "not-json"),
        ({**grocer_record(), "store": {"id": "ZZ9999"}}, "store.id", "unknown-store"),
        ({k: v for k, v in grocer_record().items() if k != "store"}, "store", "missing"),
        ({**grocer_record(), "occurred": {"from": "2025-03-01T09:40:00"}}, "occurred.from", "missing-offset"),
        ({**grocer_record(), "occurred": {"from": "yesterday"}}, "occurred.from", "datetime_from_date_parsing"),
        ({**grocer_record(), "occurred": {"from": "2025-03-01T09:40:00Z", "to": "2025-03-01T08:00:00Z"}},
         "occurred.to", "before-start"),
        ({**grocer_record(), "schema": "ng-incident/1"}, "schema", "literal_error"),
        ({**grocer_record(), "loss": {"lines": [{"category": "ALC", "qty": -1}]}}, "loss.lines.0.qty", "greater_than_equal"),
        ({**grocer_record(), "retailer": "North Way!"}, "retailer", "string_pattern_mismatch"),
        ([1, 2, 3], "$", "model_type"),
    ],
)
def test_bad_records_become_dead_letters_with_a_specific_reason(
    normaliser: Normaliser, payload: bytes | dict[str, Any], field: str, problem: str
) -> None:
    outcome = _run(normaliser, payload if not isinstance(payload, list) else json.dumps(payload).encode())
    assert isinstance(outcome, DeadLetter), outcome
    assert (outcome.reasons[0].field, outcome.reasons[0].problem) == (field, problem)
    assert outcome.reasons[0].message
    assert (outcome.topic, outcome.partition, outcome.offset) == ("raw.national_grocer", 1, 42)


def test_a_dead_letter_keeps_the_original_bytes_even_when_not_utf8(normaliser: Normaliser) -> None:
    raw = b"\xff\xfe\x00garbage"
    outcome = _run(normaliser, raw)
    assert isinstance(outcome, DeadLetter)
    assert outcome.payload_encoding == "base64"
    assert outcome.original_bytes() == raw


def test_a_dead_letter_names_retailer_and_incident_when_readable(normaliser: Normaliser) -> None:
    outcome = _run(normaliser, {**grocer_record(), "store": {"id": "ZZ9999"}})
    assert isinstance(outcome, DeadLetter)
    assert (outcome.retailer, outcome.incident_id) == ("northway", "NW-2025-TEST-1")
    assert "add it to the registry" in outcome.reasons[0].message


def test_several_problems_are_reported_together(normaliser: Normaliser) -> None:
    record = {**grocer_record(), "retailer": "", "incident": {"id": ""}}
    outcome = _run(normaliser, record)
    assert isinstance(outcome, DeadLetter)
    assert {r.field for r in outcome.reasons} == {"retailer", "incident.id"}


def test_unknown_feed_format_is_a_dead_letter(normaliser: Normaliser) -> None:
    outcome = _run(normaliser, grocer_record(), feed="carrier_pigeon")
    assert isinstance(outcome, DeadLetter)
    assert outcome.reasons[0].problem == "unknown-format"
    assert "national_grocer" in outcome.reasons[0].message


def test_a_bug_in_an_adapter_becomes_a_dead_letter_not_a_crash(
    normaliser: Normaliser, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = adapters()["national_grocer"]

    def broken(raw: bytes) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(adapter, "parse", broken)
    outcome = _run(normaliser, grocer_record())
    assert isinstance(outcome, DeadLetter)
    assert outcome.reasons[0].problem == "internal-error" and "boom" in outcome.reasons[0].message


def test_a_record_dated_outside_the_plausible_window_is_a_dead_letter(normaliser: Normaliser) -> None:
    """One year-9999 incident once swept the correlator's window for good; one in 1999 is a typo of the year."""
    future = _run(normaliser, grocer_record(occurred={"from": "9999-01-01T10:00:00Z"}))
    assert isinstance(future, DeadLetter)
    assert [(r.field, r.problem) for r in future.reasons] == [("occurred.start", "in-the-future")]
    assert "CRIMELINK_MAX_EVENT_AHEAD_HOURS" in future.reasons[0].message
    past = _run(normaliser, grocer_record(occurred={"from": "1999-12-31T10:00:00Z"}))
    assert isinstance(past, DeadLetter) and past.reasons[0].problem == "too-early"
    from datetime import timedelta

    soon = (now_utc() + timedelta(hours=2)).isoformat()
    assert isinstance(_run(normaliser, grocer_record(occurred={"from": soon})), Incident)  # a clock a little ahead


def test_a_revision_the_store_cannot_hold_is_a_dead_letter(normaliser: Normaliser) -> None:
    """A revision of 2^24 or more once made the sink retry its row for ever."""
    for revision in (2**24, 10**30):
        letter = _run(normaliser, grocer_record(incident={"id": "NW-REV", "revision": revision}))
        assert isinstance(letter, DeadLetter), revision
        assert letter.reasons[0].field == "revision" and letter.reasons[0].problem == "less_than_equal"
    assert isinstance(_run(normaliser, grocer_record(incident={"id": "NW-REV", "revision": 2**24 - 1})), Incident)


def test_text_that_is_not_unicode_or_holds_nul_is_a_dead_letter(normaliser: Normaliser) -> None:
    """A lone surrogate once crashed the normalise agent as it serialised the incident. Today's three formats refuse
    one as they read it; ``text_reasons`` refuses it (and an escaped NUL) for any format, whatever its reader."""
    from pathlib import Path

    line = (Path(__file__).resolve().parents[1] / "fixtures" / "convenience_flat.jsonl").read_bytes().splitlines()[0]
    assert b"waiting car" in line

    def flat(payload: bytes) -> Incident | DeadLetter:
        return normaliser.normalise(RawRecord("convenience_flat", payload, "raw.convenience_flat", 0, 7, now_utc()))

    surrogate = flat(line.replace(b"waiting car", b"waiting \\ud800 car"))
    assert isinstance(surrogate, DeadLetter)  # the format's own reader refuses it first ('not-json')
    surrogate.model_dump_json()  # the dead letter itself serialises
    nul = flat(line.replace(b"waiting car", b"waiting \\u0000 car"))
    assert isinstance(nul, DeadLetter) and (nul.reasons[0].field, nul.reasons[0].problem) == ("$.mo", "nul-character")
    emoji = flat(line.replace(b"waiting car", b"waiting \\ud83d\\ude97 car"))  # a pair: one character
    assert isinstance(emoji, Incident)
    grocer = _run(normaliser, json.dumps(grocer_record(narrative="X")).encode().replace(b'"X"', b'"\\ud800"'))
    assert isinstance(grocer, DeadLetter)


def test_text_reasons_name_the_field_of_a_lone_surrogate() -> None:
    from crimelink.intake.edges import text_reasons

    [reason] = text_reasons(b'{"a": {"b": ["ok", "x \\udc80 y"]}}')
    assert (reason.field, reason.problem) == ("$.a.b[1]", "invalid-unicode")
    assert text_reasons(b'{"a": "\\ud83d\\ude97"}') == [] and text_reasons(b"plain, csv, line") == []
