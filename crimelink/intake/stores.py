"""Store registry: a retailer's store id -> location -> police force and region.

Operators maintain the registry as a CSV (``CRIMELINK_STORES_FILE``, default the bundled
``schemas/reference/stores.csv``). An entry without a force gets one derived from its
coordinates with the police.uk force grid; an entry with neither is refused at load time,
and an incident from a store that is not in the registry is held back, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from crimelink.errors import ConfigurationError
from crimelink.schemas.incident import Store
from crimelink.schemas.reference import REFERENCE_DIR, forces, read_csv

__all__ = ["ForceGrid", "StoreRegistry", "force_grid"]

GRID_CELL_DEGREES = 0.02
MAX_RING = 8  # cells searched outwards, about 15 km


@dataclass(frozen=True, slots=True)
class _Cell:
    force_id: str
    weight: int


class ForceGrid:
    """Which force covers a point, from where police.uk records offences for each force."""

    def __init__(self, cells: dict[tuple[int, int], _Cell]) -> None:
        self._cells = cells

    @classmethod
    def load(cls, path: Path = REFERENCE_DIR / "force_grid.csv") -> ForceGrid:
        cells = {
            (int(row["lat_cell"]), int(row["lon_cell"])): _Cell(row["force_id"], int(row["offences"]))
            for row in read_csv(path)
        }
        return cls(cells)

    @classmethod
    def from_points(cls, points: Iterable[tuple[float, float, str]]) -> ForceGrid:
        """Build a grid from (lat, lon, force) points: each cell goes to its most frequent force."""
        counts: dict[tuple[int, int], dict[str, int]] = {}
        for lat, lon, force in points:
            cell = counts.setdefault(_cell_of(lat, lon), {})
            cell[force] = cell.get(force, 0) + 1
        return cls({key: _Cell(*max(value.items(), key=lambda item: item[1])) for key, value in counts.items()})

    def force_at(self, latitude: float, longitude: float) -> str | None:
        """The force of the nearest populated cell within about 15 km, or None when nothing is near."""
        lat_cell, lon_cell = _cell_of(latitude, longitude)
        for ring in range(MAX_RING + 1):
            votes: dict[str, int] = {}
            for d_lat in range(-ring, ring + 1):
                for d_lon in range(-ring, ring + 1):
                    if max(abs(d_lat), abs(d_lon)) != ring:
                        continue
                    cell = self._cells.get((lat_cell + d_lat, lon_cell + d_lon))
                    if cell is not None:
                        votes[cell.force_id] = votes.get(cell.force_id, 0) + cell.weight
            if votes:
                return max(votes.items(), key=lambda item: item[1])[0]
        return None


def _cell_of(latitude: float, longitude: float) -> tuple[int, int]:
    return round(latitude / GRID_CELL_DEGREES), round(longitude / GRID_CELL_DEGREES)


@lru_cache(maxsize=1)
def force_grid() -> ForceGrid:
    return ForceGrid.load()


class StoreRegistry:
    """Resolves (retailer, store id) to a canonical :class:`Store`."""

    def __init__(self, stores: dict[tuple[str, str], Store]) -> None:
        self._stores = stores

    def __len__(self) -> int:
        return len(self._stores)

    def get(self, retailer: str, store_id: str) -> Store | None:
        return self._stores.get((retailer.strip().lower(), store_id.strip().upper()))

    def stores_of(self, retailer: str) -> list[Store]:
        return [store for (owner, _), store in self._stores.items() if owner == retailer]

    @classmethod
    def load(cls, path: Path | None = None, grid: ForceGrid | None = None) -> StoreRegistry:
        path = path or REFERENCE_DIR / "stores.csv"
        if not path.exists():
            raise ConfigurationError(f"store registry {path} does not exist")
        known_forces = forces()
        stores: dict[tuple[str, str], Store] = {}
        problems: list[str] = []
        for line, row in enumerate(read_csv(path), start=2):
            latitude = float(row["latitude"]) if row.get("latitude") else None
            longitude = float(row["longitude"]) if row.get("longitude") else None
            force_id = row.get("force_id") or None
            if force_id is None and latitude is not None and longitude is not None:
                force_id = (grid or force_grid()).force_at(latitude, longitude)
            if force_id is None:
                problems.append(f"line {line}: store {row['store_id']} has no force and no usable coordinates")
                continue
            if force_id not in known_forces:
                problems.append(f"line {line}: store {row['store_id']} names unknown force {force_id!r}")
                continue
            store = Store(
                store_id=row["store_id"].upper(),
                name=row.get("name", ""),
                postcode=_postcode(row.get("postcode")),
                latitude=latitude,
                longitude=longitude,
                force_id=force_id,
                region_id=known_forces[force_id].region_id,
            )
            stores[(row["retailer"].lower(), store.store_id)] = store
        if problems:
            raise ConfigurationError(f"store registry {path} has {len(problems)} bad row(s): " + "; ".join(problems[:10]))
        return cls(stores)


def _postcode(value: str | None) -> str | None:
    if not value:
        return None
    compact = value.replace(" ", "").upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact
