"""Each feed adapter against realistic fixtures, across formats, on real police.uk records, and under fuzzing."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crimelink.errors import RecordRejected
from crimelink.intake.feeds import adapters
from crimelink.intake.feeds._text import local_datetime
from crimelink.intake.feeds.bcp_csv import COLUMNS, to_message
from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.referral.gate import apply_gate
from crimelink.schemas.incident import CrimeNumberStatus, Incident
from crimelink.schemas.outcomes import DeadLetter
from crimelink.simulation.feed import Simulator

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
POLICEUK = Path(__file__).resolve().parents[3] / "shared" / "data" / "policeuk"
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return Normaliser(StoreRegistry.load())


def _normalise(normaliser: Normaliser, feed: str, raw: bytes) -> Incident | DeadLetter:
    result = normaliser.normalise(RawRecord(feed, raw, f"raw.{feed}", 0, 0, NOW))
    return apply_gate(result) if isinstance(result, Incident) else result


def _lines(name: str) -> list[bytes]:
    return [line.encode() for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def _csv_messages(name: str) -> list[bytes]:
    rows = list(csv.reader(io.StringIO((FIXTURES / name).read_text())))
    return [to_message(rows[0], row) for row in rows[1:]]


def test_three_formats_are_registered() -> None:
    assert {"national_grocer", "convenience_flat", "bcp_csv"} <= set(adapters())


def test_national_grocer_fixture(normaliser: Normaliser) -> None:
    complete, naive_time = (_normalise(normaliser, "national_grocer", raw) for raw in _lines("national_grocer.jsonl"))
    assert isinstance(complete, Incident)
    assert complete.store.force_id == "derbyshire"
    assert complete.crime_reference.force_id == "northamptonshire"  # the feed named the issuing force
    assert complete.crime_reference.status is CrimeNumberStatus.VALID
    assert [g.description for g in complete.goods] == ["ALC: Whisky 70cl", "XYZ: Mystery"]
    assert [g.category for g in complete.goods] == ["ALCOHOL", "OTHER"]
    assert complete.unmapped_codes == ["goods:XYZ", "tactic:ZZZ99"]
    assert isinstance(naive_time, DeadLetter) and naive_time.reasons[0].problem == "missing-offset"


def test_convenience_flat_fixture(normaliser: Normaliser) -> None:
    summer, ambiguous, spring_gap, broken = (_normalise(normaliser, "convenience_flat", raw)
                                              for raw in _lines("convenience_flat.jsonl"))
    assert isinstance(summer, Incident)
    assert summer.revision == 2
    assert summer.occurred.start == datetime(2025, 3, 30, 17, 45, tzinfo=UTC)  # 18:45 BST
    assert summer.occurred.end == datetime(2025, 3, 30, 17, 52, tzinfo=UTC)
    assert summer.occurred.source_local_time == "30/03/2025 18:45 18:52"
    assert [(g.category, g.quantity, g.value_pence) for g in summer.goods] == [("RAZORS", 4, 8226), ("ALCOHOL", 2, 4114)]
    assert summer.total_value_pence == 12340
    assert [t.code for t in summer.tactics] == ["CONC-CLOTHING", "TEAM-LOOKOUT", "GRAB-RUN", "VEH-TRAVEL"]
    assert summer.tactics[0].source_text == "under his coat"
    description = summer.offenders.descriptions[0]
    assert (description.gender, description.build, description.complexion, description.eye_colour) == (
        "male", "slim", "pale", "blue")
    assert description.distinguishing_features == ["grey hoodie", "neck tattoo"]
    vehicle = summer.vehicles[0]
    assert (vehicle.registration, vehicle.registration_valid, vehicle.make, vehicle.model, vehicle.colour) == (
        "AB12COE", True, "Ford", "Focus", "silver")
    assert summer.threats and summer.cctv_available and not summer.violence
    assert summer.crime_reference.status is CrimeNumberStatus.MISSING

    assert isinstance(ambiguous, Incident)
    assert ambiguous.occurred.start == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # first 01:30 (BST)
    assert [(g.category, g.value_pence) for g in ambiguous.goods] == [("LAUNDRY", 4500)]
    assert {t.code for t in ambiguous.tactics} == {"SWEEP-BAG", "SWEEP-BIN"}
    assert ambiguous.crime_reference.status is CrimeNumberStatus.INCIDENT_NUMBER

    assert isinstance(spring_gap, DeadLetter)
    assert spring_gap.reasons[0].problem == "nonexistent-local-time"

    assert isinstance(broken, DeadLetter)
    assert {(r.field, r.problem) for r in broken.reasons} == {
        ("incident_date", "not-a-date"), ("value_gbp", "not-an-amount"), ("cctv", "not-yes-no")}
    assert broken.retailer == "quikmart" and broken.incident_id == "QM-88815"


def test_bcp_csv_fixture(normaliser: Normaliser) -> None:
    theft, damage, revised = (_normalise(normaliser, "bcp_csv", raw) for raw in _csv_messages("bcp_csv.csv"))
    assert isinstance(theft, Incident)
    assert theft.store.force_id == "lancashire"
    assert theft.occurred.start == datetime(2025, 6, 14, 13, 5, tzinfo=UTC)
    assert [(g.category, g.quantity, g.value_pence) for g in theft.goods] == [("BATTERIES", 6, 7200), ("ELECTRICALS", 2, 2400)]
    assert {t.code for t in theft.tactics} == {"DIST-STAFF", "SWEEP-BAG"}
    assert theft.offenders.count == 2 and theft.offenders.descriptions[0].ethnicity == "IC1"
    assert (theft.crime_reference.force_id, theft.crime_reference.status) == ("kent", CrimeNumberStatus.VALID)

    assert isinstance(damage, DeadLetter)
    assert (damage.reasons[0].field, damage.reasons[0].problem) == ("Offence", "unsupported-offence")

    assert isinstance(revised, Incident)
    assert revised.revision == 2 and revised.total_value_pence == 120900
    assert revised.vehicles[0].registration == "YX19ABC"
    assert {t.code for t in revised.tactics} == {"GRAB-RUN", "VEH-TRAVEL"}
    assert revised.crime_reference.status is CrimeNumberStatus.INCIDENT_NUMBER


@pytest.mark.parametrize(
    "raw,problem",
    [
        (b"Report Ref,Member ID\nX,tillco\nY,tillco\n", "not-one-row"),
        (b"Report Ref,Colour\nX,red\n", "unknown-columns"),
        (b"Report Ref,Member ID\nX,tillco,extra\n", "column-count"),
        (b"Report Ref,Member ID\nX,\n", "missing"),
        (b"\xff\xfe", "not-utf8"),
    ],
)
def test_bcp_csv_structural_faults(normaliser: Normaliser, raw: bytes, problem: str) -> None:
    outcome = _normalise(normaliser, "bcp_csv", raw)
    assert isinstance(outcome, DeadLetter)
    assert outcome.reasons[0].problem == problem


def test_one_scenario_in_three_formats_gives_the_same_canonical_facts(normaliser: Normaliser) -> None:
    """The simulator renders one scenario per retailer's format; the facts that survive every format agree."""
    from crimelink.simulation.feed import _RENDERERS, Simulator  # noqa: PLC2701 - the renderers are the thing under test

    simulator = Simulator(StoreRegistry.load(), seed=4, fault_rate=0, now=NOW)
    registry = StoreRegistry.load()
    for _ in range(40):
        store = registry.stores_of("northway")[_ % 10]
        document = simulator._document("northway", store)  # noqa: SLF001
        results = {}
        for feed, render in _RENDERERS.items():
            outcome = _normalise(normaliser, feed, render(document, None))
            assert isinstance(outcome, Incident), (feed, outcome)
            results[feed] = outcome
        facts = {
            feed: (i.incident_id, i.store.force_id, i.total_value_pence, sorted({g.category for g in i.goods}),
                   i.crime_reference.status, i.occurred.start.replace(second=0, microsecond=0),
                   [v.registration for v in i.vehicles], i.offenders.count)
            for feed, i in results.items()
        }
        assert len(set(map(repr, facts.values()))) == 1, facts
        coded = {t.code for t in results["national_grocer"].tactics}
        for feed in ("convenience_flat", "bcp_csv"):
            assert {t.code for t in results[feed].tactics} == coded, feed


@pytest.mark.skipif(not (POLICEUK / "shoplifting.csv").exists(), reason="police.uk sample not present")
def test_real_police_uk_records_as_partnership_feed(tmp_path: Path) -> None:
    """Real police.uk shoplifting records, each sent as a BCP row from a store at its location whose
    registry entry names no force: the derived force must be the one police.uk recorded."""
    names = {row["name"]: row["id"] for row in csv.DictReader((POLICEUK / "forces.csv").open())}
    rows = [row for row in csv.DictReader((POLICEUK / "shoplifting.csv").open())
            if row["Latitude"] and row["Falls within"] in names][::25]
    registry_file = tmp_path / "stores.csv"
    with registry_file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["retailer", "store_id", "name", "postcode", "latitude", "longitude", "force_id"])
        for number, row in enumerate(rows):
            writer.writerow(["bcp-member", f"S{number}", row["Location"], "", row["Latitude"], row["Longitude"], ""])
    normaliser = Normaliser(StoreRegistry.load(registry_file))
    agree = 0
    for number, row in enumerate(rows):
        values = {column: "" for column in COLUMNS}
        values.update({
            "Report Ref": row["Crime ID"][:16] or f"PUK-{number}", "Member ID": "bcp-member", "Site Code": f"S{number}",
            "Site Name": row["Location"], "Incident Date": f"15/{row['Month'][5:]}/{row['Month'][:4]}",
            "Incident Time": "12:00", "Offence": "Shoplifting", "Details": row["Last outcome category"],
        })
        outcome = _normalise(normaliser, "bcp_csv", to_message(COLUMNS, [values[c] for c in COLUMNS]))
        assert isinstance(outcome, Incident), outcome
        assert outcome.occurred.start.strftime("%Y-%m") == row["Month"]
        agree += outcome.store.force_id == names[row["Falls within"]]
    print(f"{len(rows)} police.uk records; derived force agrees for {agree / len(rows):.4f}")
    assert agree / len(rows) > 0.97


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)


def _mutated_simulated_record() -> st.SearchStrategy[tuple[str, bytes]]:
    records = list(Simulator(StoreRegistry.load(), seed=9, fault_rate=0, now=NOW).records(30))

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, bytes]:
        record = draw(st.sampled_from(records))
        raw = bytearray(record.value)
        for _ in range(draw(st.integers(0, 4))):
            position = draw(st.integers(0, len(raw) - 1))
            raw[position] = draw(st.integers(0, 255))
        return record.feed_format, bytes(raw)

    return build()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feed=st.sampled_from(["national_grocer", "convenience_flat", "bcp_csv"]), raw=st.binary(max_size=400))
def test_no_bytes_crash_an_adapter(normaliser: Normaliser, feed: str, raw: bytes) -> None:
    outcome = normaliser.normalise(RawRecord(feed, raw, "t", 0, 0, NOW))
    assert isinstance(outcome, Incident | DeadLetter)
    if isinstance(outcome, DeadLetter):
        assert outcome.reasons and outcome.original_bytes() == raw
        assert all(reason.problem != "internal-error" for reason in outcome.reasons), outcome.reasons


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feed=st.sampled_from(["national_grocer", "convenience_flat"]), document=_json_values)
def test_no_json_document_crashes_an_adapter(normaliser: Normaliser, feed: str, document: object) -> None:
    raw = json.dumps(document).encode()
    outcome = normaliser.normalise(RawRecord(feed, raw, "t", 0, 0, NOW))
    assert isinstance(outcome, DeadLetter)  # nothing random is a complete record
    assert all(reason.problem != "internal-error" for reason in outcome.reasons), outcome.reasons


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_simulated_record())
def test_corrupted_real_records_end_in_exactly_one_outcome(normaliser: Normaliser, record: tuple[str, bytes]) -> None:
    feed, raw = record
    outcome = normaliser.normalise(RawRecord(feed, raw, "t", 0, 0, NOW))
    assert isinstance(outcome, Incident | DeadLetter)
    if isinstance(outcome, DeadLetter):
        assert all(reason.problem != "internal-error" for reason in outcome.reasons), (raw, outcome.reasons)


@pytest.mark.parametrize(("day", "day_first", "expected"), [
    ("01/03/2025", True, date(2025, 3, 1)), ("1/3/2025", True, date(2025, 3, 1)), ("01-03-2025", True, date(2025, 3, 1)),
    ("2025-03-01", True, date(2025, 3, 1)), ("2025-3-1", False, date(2025, 3, 1)), ("03/01/2025", False, date(2025, 3, 1)),
    ("29/02/2024", True, date(2024, 2, 29)),
    ("31/02/2025", True, None), ("29/02/2025", True, None), ("13/13/2025", True, None), ("01/03-2025", True, None),
    ("03-01-2025", False, None), ("01/03/25", True, None), ("2025/03/01", True, None), ("", True, None),
])
def test_dates_as_retailers_write_them(day: str, day_first: bool, expected: date | None) -> None:
    if expected is None:
        with pytest.raises(RecordRejected) as rejected:
            local_datetime(day, "10:00", "occurred", day_first=day_first)
        assert rejected.value.reasons[0].problem == "not-a-date"
    else:
        assert local_datetime(day, "10:00", "occurred", day_first=day_first).date() == expected
