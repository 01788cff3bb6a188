import csv
import random
from pathlib import Path

import pytest

from crimelink.errors import ConfigurationError
from crimelink.intake.stores import ForceGrid, StoreRegistry, force_grid
from crimelink.schemas.reference import forces

POLICEUK = Path(__file__).resolve().parents[3] / "shared" / "data" / "policeuk"


def test_bundled_registry_resolves_every_store_to_a_force_and_region() -> None:
    registry = StoreRegistry.load()
    assert len(registry) > 200
    store = registry.get("northway", "nw0005")
    assert store is not None and store.force_id == "sussex" and store.region_id == "serocu"
    assert registry.get("northway", "NOPE") is None
    assert all(s.region_id == forces()[s.force_id].region_id for s in registry.stores_of("pennywise"))


def test_force_is_derived_from_coordinates_when_missing(tmp_path: Path) -> None:
    path = tmp_path / "stores.csv"
    path.write_text(
        "retailer,store_id,name,postcode,latitude,longitude,force_id\n"
        "acme,A1,Canterbury,ct1 2aa,51.2802,1.0789,\n"  # Canterbury: Kent
        "acme,A3,Explicit,,,,metropolitan\n"
    )
    registry = StoreRegistry.load(path)
    a1 = registry.get("acme", "A1")
    assert a1 is not None and a1.force_id == "kent" and a1.postcode == "CT1 2AA"
    a3 = registry.get("acme", "A3")
    assert a3 is not None and a3.region_id == "london"


def test_registry_rows_without_force_or_location_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "stores.csv"
    path.write_text("retailer,store_id,name,postcode,latitude,longitude,force_id\nacme,A1,X,,,,\nacme,A2,Y,,,,atlantis\n")
    with pytest.raises(ConfigurationError, match="2 bad row") as error:
        StoreRegistry.load(path)
    assert "no force and no usable coordinates" in str(error.value) and "atlantis" in str(error.value)


def test_a_point_far_from_any_offence_has_no_force() -> None:
    assert force_grid().force_at(55.0, -25.0) is None


@pytest.mark.skipif(not (POLICEUK / "shoplifting.csv").exists(), reason="police.uk sample not present")
def test_force_grid_accuracy_on_held_out_police_uk_points() -> None:
    names = {row["name"]: row["id"] for row in csv.DictReader((POLICEUK / "forces.csv").open())}
    points = [
        (float(row["Latitude"]), float(row["Longitude"]), names[row["Falls within"]])
        for row in csv.DictReader((POLICEUK / "shoplifting.csv").open())
        if row["Latitude"] and row["Falls within"] in names and row["Falls within"] != "British Transport Police"
    ]
    random.Random(1).shuffle(points)
    cut = len(points) * 4 // 5
    grid = ForceGrid.from_points(points[:cut])
    held_out = points[cut:]
    correct = sum(grid.force_at(lat, lon) == force for lat, lon, force in held_out)
    print(f"force grid accuracy on {len(held_out)} held-out points: {correct / len(held_out):.4f}")
    assert correct / len(held_out) > 0.97
