"""The evidence package a force needs to pick up a multi-region series: JSON, and a readable rendering.

Only referable incidents (valid crime number) count as evidence; incidents still awaiting a
crime number are listed apart, as intelligence.
"""

from __future__ import annotations

import html
from typing import Any

from crimelink.schemas.correlation import Case, Link, Series
from crimelink.schemas.reference import forces, regions

__all__ = ["build_package", "render_markdown", "render_html"]


def _incident_entry(case: Case) -> dict[str, Any]:
    return {
        "key": case.key, "retailer": case.retailer, "incident_id": case.incident_id, "revision": case.revision,
        "occurred_at": case.start.isoformat(), "store": case.store_name, "force_id": case.force_id,
        "force": forces()[case.force_id].name if case.force_id in forces() else case.force_id,
        "region_id": case.region_id, "crime_number": case.crime_number, "eligibility": case.eligibility,
        "eligibility_reason": case.eligibility_reason, "tactics": case.tactics, "goods": case.goods,
        "value_pence": case.value_pence, "offender_count": case.offender_count,
        "descriptions": [d.model_dump() for d in case.descriptions],
        "vehicles": [v.model_dump() for v in case.vehicles if v.registration or v.make],
    }


def build_package(series: Series, cases: list[Case], links: list[Link], lead_force: str, lead_reason: str,
                  level: int) -> dict[str, Any]:
    referable = [_incident_entry(c) for c in cases if c.eligibility == "referable"]
    awaiting = [_incident_entry(c) for c in cases if c.eligibility != "referable"]
    vehicles: dict[str, dict[str, Any]] = {}
    for case in cases:
        for vehicle in case.vehicles:
            if vehicle.valid and vehicle.registration:
                entry = vehicles.setdefault(vehicle.registration, {
                    "registration": vehicle.registration, "make": vehicle.make, "model": vehicle.model,
                    "colour": vehicle.colour, "incidents": [], "forces": []})
                entry["incidents"].append(case.key)
                if case.force_id not in entry["forces"]:
                    entry["forces"].append(case.force_id)
    return {
        "series_id": series.series_id,
        "alert_level": level,
        "lead_force": lead_force,
        "lead_reason": lead_reason,
        "forces": series.forces,
        "regions": [{"id": r, "name": regions().get(r, r)} for r in series.regions],
        "first_seen": series.first_seen.isoformat(),
        "last_seen": series.last_seen.isoformat(),
        "tactics": series.tactics,
        "goods": series.goods,
        "totals": {
            "incidents": len(cases), "referable": len(referable), "awaiting_crime_number": len(awaiting),
            "value_pence": series.total_value_pence,
            "referable_value_pence": sum(entry["value_pence"] for entry in referable),
        },
        "evidence": referable,
        "awaiting_crime_number": awaiting,
        "timeline": [{"at": c.start.isoformat(), "key": c.key, "force_id": c.force_id, "store": c.store_name,
                      "eligibility": c.eligibility} for c in cases],
        "vehicles": list(vehicles.values()),
        "links": [{"a": link.a, "b": link.b, "score": link.score,
                   "why": [f"{e.feature}: {e.detail}" for e in link.evidence]} for link in links],
    }


def _pounds(pence: int) -> str:
    return f"£{pence / 100:,.2f}"


def render_markdown(package: dict[str, Any]) -> str:
    totals = package["totals"]
    lines = [
        f"# Evidence package — series {package['series_id']} (alert level {package['alert_level']})",
        "",
        f"**Suggested lead force:** {package['lead_force']} — {package['lead_reason']}.",
        f"**Forces:** {', '.join(package['forces'])}  ",
        f"**Regions:** {', '.join(r['name'] for r in package['regions'])}  ",
        f"**Period:** {package['first_seen'][:16]} to {package['last_seen'][:16]} UTC  ",
        f"**Tactics:** {', '.join(package['tactics'])}  ",
        f"**Goods:** {', '.join(package['goods'])}  ",
        f"**Totals:** {totals['incidents']} incidents, {totals['referable']} referable "
        f"({_pounds(totals['referable_value_pence'])}), {totals['awaiting_crime_number']} awaiting a crime number; "
        f"{_pounds(totals['value_pence'])} in all",
        "",
        "## Evidence (incidents with a valid crime number)",
        "",
        "| when (UTC) | force | store | retailer ref | crime number | tactics | value | vehicles |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in package["evidence"]:
        lines.append(_row(entry))
    lines += ["", "## Awaiting a crime number (intelligence, not evidence)", ""]
    if package["awaiting_crime_number"]:
        lines += ["| when (UTC) | force | store | retailer ref | status | tactics | value | vehicles |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [_row(entry, status=True) for entry in package["awaiting_crime_number"]]
    else:
        lines.append("None.")
    lines += ["", "## Vehicles", ""]
    for vehicle in package["vehicles"]:
        looks = " ".join(filter(None, [vehicle["colour"], vehicle["make"], vehicle["model"]]))
        lines.append(f"- {vehicle['registration']} ({looks}): {len(vehicle['incidents'])} incidents in "
                     f"{', '.join(vehicle['forces'])}")
    if not package["vehicles"]:
        lines.append("None reported.")
    lines += ["", "## Descriptions", ""]
    for entry in package["evidence"] + package["awaiting_crime_number"]:
        for description in entry["descriptions"]:
            parts = [description.get(k) for k in ("gender", "build", "complexion", "eye_colour", "ethnicity")]
            text = ", ".join(p for p in parts if p)
            if description["features"]:
                text += "; " + ", ".join(description["features"])
            lines.append(f"- {entry['key']}: {text}")
    lines += ["", "## Why these incidents are linked", ""]
    for link in package["links"]:
        lines.append(f"- {link['a']} ↔ {link['b']} (score {link['score']:.2f}): {'; '.join(link['why'])}")
    return "\n".join(lines) + "\n"


def _row(entry: dict[str, Any], status: bool = False) -> str:
    vehicles = ", ".join(v["registration"] or "?" for v in entry["vehicles"]) or "-"
    middle = entry["eligibility"] if status else (entry["crime_number"] or "-")
    return (f"| {entry['occurred_at'][:16]} | {entry['force_id']} | {entry['store']} | "
            f"{entry['retailer']}/{entry['incident_id']} | {middle} | {', '.join(entry['tactics'])} | "
            f"{_pounds(entry['value_pence'])} | {vehicles} |")


def render_html(package: dict[str, Any]) -> str:
    """A printable page: the Markdown rendering's content as HTML, no front-end build needed."""
    body = []
    in_table = False
    for line in render_markdown(package).splitlines():
        if line.startswith("|"):
            cells = [html.escape(cell.strip()) for cell in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
                body.append("<tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>")
            else:
                body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        text = html.escape(line).replace("**", "")
        if line.startswith("# "):
            body.append(f"<h1>{text[2:]}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{text[3:]}</h2>")
        elif line.startswith("- "):
            body.append(f"<li>{text[2:]}</li>")
        elif line.strip():
            body.append(f"<p>{text}</p>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:75rem}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccd;padding:.2rem .4rem;font-size:.9rem;text-align:left}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Evidence {package['series_id']}"
            f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>")
