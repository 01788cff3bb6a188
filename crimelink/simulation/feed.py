"""A realistic simulated feed: several retailers' stores (placed at real police.uk offence
locations), plausible losses, tactics, offenders, vehicles and crime references, and a small
share of the faulty records real feeds carry. Deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crimelink.intake.feeds._text import LONDON
from crimelink.intake.stores import StoreRegistry
from crimelink.schemas.incident import Store

__all__ = ["SimulatedRecord", "Simulator", "FAULT_KINDS", "RETAILER_FORMATS"]

_GOODS = [
    ("ALC", "Whisky 70cl", 2500), ("ALC", "Gin 70cl", 2200), ("ALC", "Prosecco 75cl", 900),
    ("MTF", "Beef steaks", 800), ("MTF", "Lamb joint", 1400), ("CHS", "Mature cheddar 400g", 450),
    ("RZR", "Razor blades 8pk", 2800), ("LDY", "Laundry pods 50", 1300), ("BBM", "Baby milk 800g", 1500),
    ("CSM", "Foundation", 1200), ("FRG", "Eau de parfum 100ml", 6500), ("COF", "Ground coffee 200g", 700),
    ("BAT", "AA batteries 12pk", 1100), ("TOB", "Disposable vapes", 700), ("ELE", "Electric toothbrush", 6000),
    ("CNF", "Chocolate bars", 150),
]
_TACTICS = {
    "DST01": "set off the alarm by the entrance", "DST02": "distracted staff at the kiosk",
    "TMS01": "a second male kept lookout by the door", "TMS02": "took only the lines on a shopping list",
    "CNC01": "concealed items in a foil-lined bag", "CNC02": "hid items under his coat",
    "CNC03": "used a tag remover", "SCO02": "did not scan items at self-checkout",
    "SWP01": "swept the shelf into a bag", "EXT01": "grabbed the items and ran out",
    "VEH01": "left in a waiting car", "VIO02": "threatened staff who challenged him",
}
_BUILDS = ["slim", "medium", "heavy", "muscular"]
_COMPLEXIONS = ["pale", "fair", "olive", "dark"]
_EYES = ["blue", "brown", "green", "grey"]
_ETHNICITY = ["IC1", "IC2", "IC3", "IC4", "IC6"]
_FEATURES = ["neck tattoo", "grey hoodie", "scar on left cheek", "black cap", "north face jacket", "beard"]
_VEHICLES = [("Ford", "Focus"), ("Vauxhall", "Astra"), ("Volkswagen", "Golf"), ("BMW", "3 Series"),
             ("Audi", "A3"), ("Toyota", "Prius"), ("Nissan", "Qashqai")]
_COLOURS = ["silver", "black", "white", "blue", "grey", "red"]
_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXYZ"
FAULT_KINDS = ("malformed", "missing-field", "unknown-store", "bad-time")
#: Which feed format each simulated retailer sends.
RETAILER_FORMATS = {
    "northway": "national_grocer", "pennywise": "national_grocer", "cornerstop": "national_grocer",
    "brightchem": "national_grocer", "quikmart": "convenience_flat", "dayfresh": "convenience_flat",
    "tillco": "bcp_csv", "hartleys": "bcp_csv",
}


@dataclass(frozen=True)
class SimulatedRecord:
    feed_format: str
    key: bytes
    value: bytes
    fault: str | None  # None for a good record, else one of FAULT_KINDS
    #: For a good record sent without a valid crime number: the number the force will issue later.
    later_crime_number: str | None = None


class Simulator:
    """Generates national_grocer records for every retailer in the store registry."""

    def __init__(self, registry: StoreRegistry, seed: int = 7, fault_rate: float = 0.04,
                 now: datetime | None = None, id_prefix: str = "") -> None:
        self._rng = random.Random(seed)
        self._id_prefix = id_prefix
        self._registry = registry
        self._retailers = {r: registry.stores_of(r) for r in RETAILER_FORMATS}
        self._retailers = {r: stores for r, stores in self._retailers.items() if stores}
        self._fault_rate = fault_rate
        self._now = now
        self._sequence = 0

    def records(self, count: int | None = None) -> Iterator[SimulatedRecord]:
        produced = 0
        while count is None or produced < count:
            yield self.next_record()
            produced += 1

    def next_record(self) -> SimulatedRecord:
        rng = self._rng
        retailer = rng.choice(sorted(self._retailers))
        store = rng.choice(self._retailers[retailer])
        document = self._document(retailer, store)
        fault = rng.choice(FAULT_KINDS) if rng.random() < self._fault_rate else None
        feed = RETAILER_FORMATS[retailer]
        value = _RENDERERS[feed](document, fault)
        reference = document["police"]["crime_reference"]  # type: ignore[index]
        later = None
        if fault is None and (reference is None or str(reference).startswith("INC")):
            later = self._valid_reference(store.force_id)
        return SimulatedRecord(feed, f"{retailer}:{document['incident']['id']}".encode(), value, fault, later)

    def _document(self, retailer: str, store: Store, at: datetime | None = None) -> dict[str, Any]:
        rng = self._rng
        self._sequence += 1  # every document gets the next incident number
        now = self._now or datetime.now(UTC)
        start = at or now - timedelta(minutes=rng.randint(5, 240))
        tactic_codes = rng.sample(sorted(_TACTICS), rng.randint(1, 3))
        offenders = rng.choices([1, 2, 3, 4], weights=[55, 30, 10, 5])[0]
        lines = [
            {"category": code, "description": text, "qty": rng.randint(1, 12), "unit_price_pence": price}
            for code, text, price in rng.sample(_GOODS, rng.randint(1, 3))
        ]
        vehicles = []
        if "VEH01" in tactic_codes or rng.random() < 0.1:
            make, model = rng.choice(_VEHICLES)
            vehicles.append({"vrm": self._plate(), "make": make, "model": model, "colour": rng.choice(_COLOURS)})
        return {
            "schema": "ng-incident/2",
            "retailer": retailer,
            "incident": {"id": f"{retailer[:2].upper()}{self._id_prefix}-{now:%Y}-{self._sequence:07d}", "revision": 1,
                         "reported_at": now.isoformat()},
            "store": {"id": store.store_id},
            "occurred": {"from": start.isoformat(), "to": (start + timedelta(minutes=rng.randint(2, 25))).isoformat()},
            "loss": {"lines": lines},
            "tactics": tactic_codes,
            "offenders": {"count": offenders, "descriptions": [self._description() for _ in range(min(offenders, 2))]},
            "vehicles": vehicles,
            "flags": {"violence": rng.random() < 0.05, "threats": "VIO02" in tactic_codes, "weapon": rng.random() < 0.02},
            "cctv": rng.random() < 0.8,
            "police": {"crime_reference": self._crime_reference(store.force_id)},
            "narrative": "Offender " + "; then ".join(_TACTICS[code] for code in tactic_codes) + ".",
        }

    def _description(self) -> dict[str, object]:
        rng = self._rng
        return {"gender": rng.choice(["male", "female"]), "build": rng.choice(_BUILDS),
                "complexion": rng.choice(_COMPLEXIONS), "eye_colour": rng.choice(_EYES),
                "ethnicity": rng.choice(_ETHNICITY), "features": rng.sample(_FEATURES, rng.randint(0, 2))}

    def _plate(self) -> str:
        rng = self._rng
        letters = lambda n: "".join(rng.choice(_LETTERS) for _ in range(n))  # noqa: E731
        return f"{letters(2)}{rng.randint(51, 74)} {letters(3)}"

    def _crime_reference(self, force_id: str) -> str | None:
        rng = self._rng
        roll = rng.random()
        if roll < 0.2:
            return None
        if roll < 0.32:
            return f"INC-{rng.randint(10000, 99999)}"
        if roll < 0.36:
            return f"{rng.randint(100, 9999)}"  # too short to be any force's crime number
        return self._valid_reference(force_id)

    def _valid_reference(self, force_id: str) -> str:
        rng = self._rng
        if force_id == "northamptonshire":
            return f"{rng.randint(10**10, 10**11 - 1)}"
        if force_id == "kent":
            return f"46/{rng.choice(['AB', 'CD', 'EF'])}/{rng.randint(10000, 999999):06d}/25"
        if force_id == "metropolitan":
            return f"{rng.randint(10**6, 10**7 - 1)}/25"
        return f"{force_id[:2].upper()}/{rng.randint(10**6, 10**8 - 1)}/25"


def _render_grocer(document: dict[str, Any], fault: str | None) -> bytes:
    if fault == "missing-field":
        document = {key: value for key, value in document.items() if key != "store"}
    elif fault == "unknown-store":
        document = {**document, "store": {"id": "ZZ9999"}}
    elif fault == "bad-time":
        document = {**document, "occurred": {"from": str(document["occurred"]["from"])[:19]}}
    encoded = json.dumps(document).encode()
    return encoded[:-7] if fault == "malformed" else encoded


def _flat_view(document: dict[str, Any]) -> dict[str, str]:
    """The grocer document as the wording a convenience chain or a partnership would use."""
    start = datetime.fromisoformat(document["occurred"]["from"]).astimezone(LONDON)
    end = datetime.fromisoformat(document["occurred"]["to"]).astimezone(LONDON)
    lines = document["loss"]["lines"]
    total = sum(line["qty"] * line["unit_price_pence"] for line in lines)
    descriptions = document["offenders"]["descriptions"]
    first = descriptions[0] if descriptions else {}
    vehicles = document["vehicles"]
    car = vehicles[0] if vehicles else {}
    return {
        "date": f"{start:%d/%m/%Y}",
        "time": f"{start:%H:%M}",
        "end": f"{end:%H:%M}" if end.date() == start.date() else "",
        "value": f"£{total / 100:,.2f}",
        "items": "; ".join(f"{line['qty']}x {line['description']}" for line in lines),
        "description": ", ".join(filter(None, [
            first.get("gender"), first.get("build"), first.get("complexion"),
            f"{first['eye_colour']} eyes" if first.get("eye_colour") else "", first.get("ethnicity"),
            *first.get("features", []),
        ])),
        "reg": car.get("vrm") or "",
        "vehicle": " ".join(filter(None, [car.get("colour"), (car.get("make") or "").lower(),
                                           (car.get("model") or "").lower()])),
    }


def _yn(value: object) -> str:
    return "Y" if value else "N"


def _render_convenience(document: dict[str, Any], fault: str | None) -> bytes:
    flat = _flat_view(document)
    record = {
        "chain": document["retailer"], "ref": document["incident"]["id"], "rev": str(document["incident"]["revision"]),
        "shop": document["store"]["id"], "incident_date": flat["date"], "incident_time": flat["time"],
        "end_time": flat["end"], "value_gbp": flat["value"], "items": flat["items"], "mo": document["narrative"],
        "offenders": str(document["offenders"]["count"]), "offender_desc": flat["description"],
        "vehicle_reg": flat["reg"], "vehicle": flat["vehicle"], "violence": _yn(document["flags"]["violence"]),
        "threats": _yn(document["flags"]["threats"]), "weapon": _yn(document["flags"]["weapon"]),
        "cctv": _yn(document["cctv"]), "crime_no": document["police"]["crime_reference"] or "", "force": "",
    }
    if fault == "missing-field":
        del record["shop"]
    elif fault == "unknown-store":
        record["shop"] = "ZZ9999"
    elif fault == "bad-time":
        record["incident_time"] = "25:61"
    encoded = json.dumps(record).encode()
    return encoded[:-7] if fault == "malformed" else encoded


def _render_bcp(document: dict[str, Any], fault: str | None) -> bytes:
    from crimelink.intake.feeds.bcp_csv import COLUMNS, to_message

    flat = _flat_view(document)
    row = {
        "Report Ref": document["incident"]["id"], "Member ID": document["retailer"], "Site Code": document["store"]["id"],
        "Site Name": "", "Postcode": "", "Incident Date": flat["date"], "Incident Time": flat["time"],
        "Offence": "Theft from shop", "Goods": flat["items"], "Value": flat["value"],
        "Offender Count": str(document["offenders"]["count"]), "Offender Description": flat["description"],
        "Vehicle Reg": flat["reg"], "Vehicle Description": flat["vehicle"], "Police Force": "",
        "Police Ref": document["police"]["crime_reference"] or "", "Violence": _yn(document["flags"]["violence"]),
        "CCTV": _yn(document["cctv"]), "Details": document["narrative"], "Revision": str(document["incident"]["revision"]),
    }
    if fault == "missing-field":
        row["Site Code"] = ""
    elif fault == "unknown-store":
        row["Site Code"] = "ZZ9999"
    elif fault == "bad-time":
        row["Incident Time"] = "25:61"
    values = [row[column] for column in COLUMNS]
    if fault == "malformed":
        values = values[:-3]
    return to_message(COLUMNS, values)


_RENDERERS = {"national_grocer": _render_grocer, "convenience_flat": _render_convenience, "bcp_csv": _render_bcp}
