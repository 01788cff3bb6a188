"""Rebuild the reference files derived from police.uk data (Open Government Licence v3.0).

    python scripts/build_reference.py ../shared/data/policeuk

Writes schemas/reference/force_grid.csv (which force covers each 0.02-degree cell that
police.uk records a shoplifting offence in) and schemas/reference/stores.csv (the store
registry of the simulated retailers, placed at real offence locations). Deterministic.
"""

from __future__ import annotations

import csv
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "schemas" / "reference"
CELL = 0.02

RETAILERS = {
    # retailer id: (feed format, store id prefix, name prefix, stores)
    "northway": ("national_grocer", "NW", "Northway Superstore", 90),
    "pennywise": ("national_grocer", "PW", "Pennywise Local", 60),
    "cornerstop": ("national_grocer", "CS", "CornerStop", 60),
    "brightchem": ("national_grocer", "BC", "Brightchem Pharmacy", 45),
    "quikmart": ("convenience_flat", "QM", "Quikmart", 60),
    "dayfresh": ("convenience_flat", "DF", "Dayfresh Express", 40),
    "tillco": ("bcp_csv", "TC", "Tillco Discount", 40),
    "hartleys": ("bcp_csv", "HT", "Hartleys Home & Garden", 30),
}


def main(source: Path) -> None:
    names = {row["name"]: row["id"] for row in csv.DictReader((source / "forces.csv").open())}
    points: list[tuple[float, float, str, str]] = []
    with (source / "shoplifting.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["Longitude"] or row["Falls within"] not in names:
                continue
            points.append((float(row["Latitude"]), float(row["Longitude"]), names[row["Falls within"]], row["Location"]))
    cells: dict[tuple[int, int], Counter[str]] = defaultdict(Counter)
    for lat, lon, force, _ in points:
        cells[(round(lat / CELL), round(lon / CELL))][force] += 1
    with (REFERENCE / "force_grid.csv").open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["lat_cell", "lon_cell", "force_id", "offences"])
        for (lat_cell, lon_cell), counts in sorted(cells.items()):
            force, count = counts.most_common(1)[0]
            writer.writerow([lat_cell, lon_cell, force, count])

    rng = random.Random("crimelink-stores")
    by_force: dict[str, list[tuple[float, float, str, str]]] = defaultdict(list)
    for point in points:
        by_force[point[2]].append(point)
    forces = sorted(by_force)
    with (REFERENCE / "stores.csv").open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["retailer", "store_id", "name", "postcode", "latitude", "longitude", "force_id"])
        for retailer, (_, prefix, name_prefix, count) in RETAILERS.items():
            for number in range(count):
                force = forces[(number * 7 + len(retailer)) % len(forces)]
                lat, lon, _, location = rng.choice(by_force[force])
                street = location.removeprefix("On or near ").strip() or "High Street"
                # Every fifth store leaves the force blank: the registry derives it from coordinates.
                writer.writerow([
                    retailer, f"{prefix}{number + 1:04d}", f"{name_prefix} {street}", "",
                    f"{lat:.6f}", f"{lon:.6f}", "" if number % 5 == 4 else force,
                ])
    print(f"{len(cells)} grid cells from {len(points)} points; stores for {len(RETAILERS)} retailers")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/policeuk"))
