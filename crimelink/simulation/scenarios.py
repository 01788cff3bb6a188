"""Organised-crime scenarios for measuring correlation: realistic background plus planted groups, with ground truth.

Background incidents are placed at the simulated retailers' stores (real police.uk offence
locations) with force volumes from police.uk. Planted groups:

- ``travelling``: a team with one vehicle moving through several forces in different regions;
- ``steal_to_order``: a team with a fixed tactic set and target goods, changing vehicles, across regions;
- ``local``: a prolific offender who never leaves one force (must never raise a multi-region alert);
- ``lookalike``: unrelated incidents that copy a travelling team's tactics and goods (must not join it).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crimelink.intake.stores import StoreRegistry
from crimelink.schemas.incident import Store
from crimelink.schemas.reference import REFERENCE_DIR, forces, read_csv
from crimelink.simulation.feed import _RENDERERS, _TACTICS, RETAILER_FORMATS, Simulator

__all__ = ["PlantedRecord", "GroupTruth", "OrcScenario"]

_MARKS = ["teardrop tattoo", "spider web tattoo", "burn scar", "swallow tattoo", "scorpion tattoo", "birthmark",
          "clover tattoo", "rose tattoo", "star tattoo", "barcode tattoo", "snake tattoo", "dagger tattoo"]
_PLACES = ["under left eye", "on right elbow", "on left hand", "on neck", "behind right ear", "on left temple",
           "on right wrist", "on throat", "on left forearm", "on right cheek"]


@dataclass(frozen=True)
class PlantedRecord:
    at: datetime
    feed_format: str
    key: bytes
    value: bytes
    group: str | None  # None for background
    kind: str  # background, travelling, steal_to_order, local, lookalike
    region_id: str = ""


@dataclass
class GroupTruth:
    group: str
    kind: str
    incidents: list[str] = field(default_factory=list)
    forces: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)

    @property
    def multi_region(self) -> bool:
        """A group the unit must be alerted to: organised, and spread over 3+ forces in 2+ regions."""
        return self.kind in ("travelling", "steal_to_order") and len(self.forces) >= 3 and len(self.regions) >= 2


class OrcScenario:
    def __init__(self, registry: StoreRegistry, *, seed: int = 1, days: int = 28, background: int = 10_000,
                 travelling: int = 8, steal_to_order: int = 8, local: int = 8, lookalikes: int = 40,
                 start: datetime | None = None) -> None:
        self.rng = random.Random(seed)
        self.simulator = Simulator(registry, seed=seed, fault_rate=0.0, id_prefix="X")
        self.start = start or datetime(2026, 1, 1, tzinfo=UTC)
        self.days = days
        self.stores_by_force: dict[str, list[tuple[str, Store]]] = defaultdict(list)
        for retailer in RETAILER_FORMATS:
            for store in registry.stores_of(retailer):
                self.stores_by_force[store.force_id].append((retailer, store))
        volumes = {row["force_id"]: float(row["per_month"]) for row in read_csv(REFERENCE_DIR / "force_volumes.csv")}
        self.weights = {force: volumes.get(force, 0.0) for force in self.stores_by_force}
        self._features = [f"{mark} {place}" for mark in _MARKS for place in _PLACES]
        self.rng.shuffle(self._features)
        self.records: list[PlantedRecord] = []
        self._signatures: list[tuple[list[str], list[tuple[str, str, int]]]] = []
        self.truth: dict[str, GroupTruth] = {}
        self._background(background)
        for number in range(travelling):
            self._travelling(f"travelling-{number}")
        for number in range(steal_to_order):
            self._steal_to_order(f"steal-to-order-{number}")
        for number in range(local):
            self._local(f"local-{number}")
        self._lookalikes(lookalikes)
        self.records.sort(key=lambda record: record.at)

    @property
    def background_count(self) -> int:
        return sum(1 for record in self.records if record.group is None)

    def _time(self) -> datetime:
        return self.start + timedelta(seconds=self.rng.uniform(0, self.days * 86400))

    def _add(self, retailer: str, store: Store, at: datetime, group: str | None, kind: str,
             change: Any = None) -> None:
        document = self.simulator._document(retailer, store, at=at)  # noqa: SLF001 - the scenario shapes the simulator's documents
        if change is not None:
            change(document)
        feed = RETAILER_FORMATS[retailer]
        key = f"{retailer}:{document['incident']['id']}"
        region = forces()[store.force_id].region_id
        self.records.append(PlantedRecord(at, feed, key.encode(), _RENDERERS[feed](document, None), group, kind, region))
        if group is not None:
            truth = self.truth[group]
            truth.incidents.append(key)
            if store.force_id not in truth.forces:
                truth.forces.append(store.force_id)
            if region not in truth.regions:
                truth.regions.append(region)

    def _background(self, count: int) -> None:
        names = sorted(self.weights)
        weights = [self.weights[name] for name in names]
        for _ in range(count):
            force = self.rng.choices(names, weights)[0]
            retailer, store = self.rng.choice(self.stores_by_force[force])
            self._add(retailer, store, self._time(), None, "background")

    def _route(self, force_count: int) -> list[str]:
        """Distinct mainland forces in at least two regions, visited in order."""
        by_region: dict[str, list[str]] = defaultdict(list)
        for force in sorted(self.stores_by_force):
            region = forces()[force].region_id
            if region not in ("northern-ireland", "scotland"):
                by_region[region].append(force)
        regions = self.rng.sample(sorted(by_region), k=max(2, (force_count + 1) // 2))
        pool = [force for region in regions for force in by_region[region]]
        chosen = [self.rng.choice(by_region[region]) for region in regions[:2]]
        rest = [force for force in pool if force not in chosen]
        chosen += self.rng.sample(rest, k=min(len(rest), force_count - len(chosen)))
        self.rng.shuffle(chosen)
        return chosen

    def _team(self, size: int) -> list[dict[str, Any]]:
        rng = self.rng
        return [{"gender": rng.choice(["male", "male", "female"]), "build": rng.choice(["slim", "medium", "heavy"]),
                 "complexion": rng.choice(["pale", "fair", "olive", "dark"]),
                 "eye_colour": rng.choice(["blue", "brown", "green", "grey"]),
                 "ethnicity": rng.choice(["IC1", "IC2", "IC3", "IC4", "IC6"]),
                 "features": [self._features.pop()]} for _ in range(size)]

    def _observed(self, team: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What a witness records: each descriptor seen 85% of the time, the distinguishing feature half the time."""
        rng = self.rng
        seen = []
        for member in team:
            entry = {k: (v if rng.random() < 0.85 else None) for k, v in member.items() if k != "features"}
            entry["features"] = list(member["features"]) if rng.random() < 0.5 else []
            seen.append(entry)
        return seen

    def _travelling(self, group: str) -> None:
        rng = self.rng
        self.truth[group] = GroupTruth(group, "travelling")
        route = self._route(rng.randint(3, 5))
        team = self._team(2)
        plate = self.simulator._plate()  # noqa: SLF001
        make, model, colour = rng.choice([("Ford", "Transit", "white"), ("Vauxhall", "Astra", "silver"),
                                          ("BMW", "X5", "black"), ("Audi", "A4", "grey")])
        tactics = rng.sample(["DST01", "DST02", "TMS01", "CNC02", "SWP01", "EXT01"], 2) + ["VEH01"]
        goods = rng.sample(_GOODS_BY_CODE, 2)
        self._signatures.append((tactics, goods))
        at = self.start + timedelta(hours=rng.uniform(0, 24 * (self.days - 10)))
        for force in route:
            for _ in range(rng.randint(2, 3)):
                retailer, store = rng.choice(self.stores_by_force[force])

                def change(document: dict[str, Any]) -> None:
                    document["tactics"] = tactics + (["CNC03"] if rng.random() < 0.3 else [])
                    document["loss"]["lines"] = [{"category": c, "description": d, "qty": rng.randint(2, 10),
                                                  "unit_price_pence": p} for c, d, p in goods]
                    document["offenders"] = {"count": 2, "descriptions": self._observed(team)}
                    reported = rng.random() < 0.75
                    document["vehicles"] = [{"vrm": plate if reported else None, "make": make, "model": model,
                                             "colour": colour}]
                    document["narrative"] = "Offenders " + "; then ".join(
                        _TACTICS[code] for code in document["tactics"]) + "."

                self._add(retailer, store, at, group, "travelling", change)
                at += timedelta(hours=rng.uniform(5, 30))

    def _steal_to_order(self, group: str) -> None:
        rng = self.rng
        self.truth[group] = GroupTruth(group, "steal_to_order")
        route = self._route(rng.randint(3, 5))
        team = self._team(3)
        tactics = ["TMS02", "CNC01", "SWP01"]
        goods = rng.sample(_GOODS_BY_CODE, 2)
        at = self.start + timedelta(hours=rng.uniform(0, 24 * (self.days - 12)))
        plate = self.simulator._plate()  # noqa: SLF001
        for index, force in enumerate(route * 2):
            if index % 2 == 0:
                plate = self.simulator._plate()  # noqa: SLF001 - a new vehicle every other visit
            retailer, store = rng.choice(self.stores_by_force[force])
            current_plate = plate

            def change(document: dict[str, Any], current_plate: str = current_plate) -> None:
                document["tactics"] = tactics
                document["loss"]["lines"] = [{"category": c, "description": d, "qty": rng.randint(5, 20),
                                              "unit_price_pence": p} for c, d, p in goods]
                document["offenders"] = {"count": 3, "descriptions": self._observed(team)}
                document["vehicles"] = [{"vrm": current_plate, "make": "Vauxhall", "model": "Corsa", "colour": "red"}]
                document["narrative"] = "Offenders " + "; then ".join(_TACTICS[code] for code in tactics) + "."

            self._add(retailer, store, at, group, "steal_to_order", change)
            at += timedelta(hours=rng.uniform(10, 40))

    def _local(self, group: str) -> None:
        rng = self.rng
        self.truth[group] = GroupTruth(group, "local")
        force = rng.choice(sorted(f for f, stores in self.stores_by_force.items() if len(stores) >= 3))
        offender = self._team(1)
        tactics = rng.sample(["CNC02", "EXT01", "SWP01", "DST02"], 2)
        for _ in range(rng.randint(10, 20)):
            retailer, store = rng.choice(self.stores_by_force[force])

            def change(document: dict[str, Any]) -> None:
                document["tactics"] = tactics
                document["narrative"] = "Offender " + "; then ".join(_TACTICS[code] for code in tactics) + "."
                document["offenders"] = {"count": 1, "descriptions": self._observed(offender)}
                document["vehicles"] = []

            self._add(retailer, store, self._time(), group, "local", change)

    def _lookalikes(self, count: int) -> None:
        """Copy the travelling teams' tactics and goods, with other people and no vehicle."""
        rng = self.rng
        if not self._signatures:
            return
        for number in range(count):
            tactics, goods = rng.choice(self._signatures)
            group = f"lookalike-{number}"
            self.truth[group] = GroupTruth(group, "lookalike")
            retailer, store = rng.choice(self.stores_by_force[rng.choice(sorted(self.stores_by_force))])

            def change(document: dict[str, Any], tactics: list[str] = tactics,
                       goods: list[tuple[str, str, int]] = goods) -> None:
                document["tactics"] = list(tactics)
                document["narrative"] = "Offenders " + "; then ".join(_TACTICS[code] for code in tactics) + "."
                document["loss"]["lines"] = [{"category": c, "description": d, "qty": rng.randint(2, 10),
                                              "unit_price_pence": p} for c, d, p in goods]
                document["vehicles"] = []

            self._add(retailer, store, self._time(), group, "lookalike", change)

    def truth_document(self) -> dict[str, Any]:
        return {
            "background_incidents": self.background_count,
            "groups": {name: {"kind": t.kind, "multi_region": t.multi_region, "incidents": t.incidents,
                              "forces": t.forces, "regions": t.regions} for name, t in self.truth.items()},
        }


_GOODS_BY_CODE = [("RZR", "Razor blades 8pk", 2800), ("ALC", "Whisky 70cl", 2500), ("MTF", "Beef steaks", 800),
                  ("BBM", "Baby milk 800g", 1500), ("FRG", "Eau de parfum 100ml", 6500), ("LDY", "Laundry pods 50", 1300),
                  ("CHS", "Mature cheddar 400g", 450), ("COF", "Ground coffee 200g", 700)]
