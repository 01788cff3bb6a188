from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from crimelink.schemas.export import SCHEMA_FILE, render_schema
from crimelink.schemas.incident import (
    CrimeNumberStatus,
    CrimeReference,
    GoodsLine,
    Incident,
    Occurrence,
    OffenderDescription,
    Store,
)


def _incident(**changes: object) -> Incident:
    fields: dict[str, object] = {
        "retailer": "northway",
        "incident_id": "NW-1",
        "feed_format": "national_grocer",
        "store": Store(store_id="NW0001", force_id="kent", region_id="ersou"),
        "occurred": Occurrence(start=datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1))),
                               source_local_time="2025-03-01T10:00:00+01:00"),
        "goods": [GoodsLine(category="ALCOHOL", quantity=2, value_pence=3000),
                  GoodsLine(category="MEAT", quantity=1, value_pence=850)],
        "crime_reference": CrimeReference(force_id="kent", status=CrimeNumberStatus.MISSING),
        "received_at": datetime(2025, 3, 1, 10, 5, tzinfo=UTC),
    }
    fields.update(changes)
    return Incident(**fields)  # type: ignore[arg-type]


def test_times_are_converted_to_utc_and_keep_the_source_text() -> None:
    incident = _incident()
    assert incident.occurred.start == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert incident.occurred.start.utcoffset() == timedelta(0)
    assert incident.occurred.source_local_time == "2025-03-01T10:00:00+01:00"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        Occurrence(start=datetime(2025, 3, 1, 10, 0), source_local_time="x")


def test_total_value_is_the_sum_of_the_lines() -> None:
    assert _incident().total_value_pence == 3850


def test_json_round_trip_keeps_every_field() -> None:
    incident = _incident()
    again = Incident.model_validate_json(incident.model_dump_json())
    assert again == incident
    assert '"total_value_pence":3850' in incident.model_dump_json()


def test_npcc_descriptor_count() -> None:
    description = OffenderDescription(gender="male", build="slim", complexion="pale", distinguishing_features=["scar"])
    assert description.descriptor_count == 4
    assert OffenderDescription().descriptor_count == 0


@pytest.mark.parametrize("field,value", [("retailer", ""), ("revision", 0), ("incident_id", "x" * 200)])
def test_identity_is_validated(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as error:
        _incident(**{field: value})
    assert error.value.errors()[0]["loc"] == (field,)


def test_store_coordinates_must_be_in_the_uk() -> None:
    with pytest.raises(ValidationError):
        Store(store_id="X", force_id="kent", region_id="ersou", latitude=40.0, longitude=-3.0)


def test_committed_json_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text() == render_schema(), "run 'crimelink schema' and commit the result"
    schema_text = SCHEMA_FILE.read_text()
    for field in ("crime_reference", "eligibility", "occurred", "vehicles", "tactics"):
        assert f'"{field}"' in schema_text
