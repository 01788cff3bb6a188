"""The evidence package a force needs to pick up a multi-region series: JSON, and a readable rendering.

Only referable incidents (valid crime number) count as evidence; incidents still awaiting a
crime number are listed apart, as intelligence.
"""

from __future__ import annotations

from typing import Any

from crimelink.safe_text import html_text, markdown_text
from crimelink.schemas.correlation import Case, Link, Series
from crimelink.schemas.reference import forces, regions

__all__ = ["build_package", "render_markdown", "render_html"]


def _incident_entry(case: Case) -> dict[str, Any]:
    return {
        "key": case.key, "retailer": case.retailer, "incident_id": case.incident_id, "revision": case.revision,
        "occurred_at": case.start.isoformat(), "store": case.store_name, "force_id": case.force_id,
        "force": forces()[case.force_id].name if case.force_id in forces() else case.force_id,
        "region_id": case.region_id, "crime_number": case.crime_number,
        "crime_number_source": case.crime_number_source, "crime_number_via": case.crime_number_via,
        "eligibility": case.eligibility,
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


def _document(package: dict[str, Any]) -> list[tuple[str, Any]]:
    """The package as blocks (heading, fields, table, items), rendered by :func:`render_markdown` and
    :func:`render_html` alike, so neither parses the other and no value can move a column."""
    totals = package["totals"]
    blocks: list[tuple[str, Any]] = [
        ("title", f"Evidence package — series {package['series_id']} (alert level {package['alert_level']})"),
        ("fields", [
            ("Suggested lead force", f"{package['lead_force']} — {package['lead_reason']}."),
            ("Forces", ", ".join(package["forces"])),
            ("Regions", ", ".join(r["name"] for r in package["regions"])),
            ("Period", f"{package['first_seen'][:16]} to {package['last_seen'][:16]} UTC"),
            ("Tactics", ", ".join(package["tactics"])),
            ("Goods", ", ".join(package["goods"])),
            ("Totals", f"{totals['incidents']} incidents, {totals['referable']} referable "
                       f"({_pounds(totals['referable_value_pence'])}), {totals['awaiting_crime_number']} awaiting a "
                       f"crime number; {_pounds(totals['value_pence'])} in all"),
        ]),
        ("heading", "Evidence (incidents with a valid crime number)"),
        ("table", (["when (UTC)", "force", "store", "retailer ref", "crime number", "tactics", "value", "vehicles"],
                   [_cells(entry) for entry in package["evidence"]])),
        ("heading", "Awaiting a crime number (intelligence, not evidence)"),
    ]
    if package["awaiting_crime_number"]:
        blocks.append(("table", (["when (UTC)", "force", "store", "retailer ref", "status", "tactics", "value",
                                  "vehicles"], [_cells(entry, status=True) for entry in package["awaiting_crime_number"]])))
    else:
        blocks.append(("text", "None."))
    vehicles = []
    for vehicle in package["vehicles"]:
        looks = " ".join(filter(None, [vehicle["colour"], vehicle["make"], vehicle["model"]]))
        vehicles.append(f"{vehicle['registration']} ({looks}): {len(vehicle['incidents'])} incidents in "
                        f"{', '.join(vehicle['forces'])}")
    blocks += [("heading", "Vehicles"), ("items", vehicles) if vehicles else ("text", "None reported.")]
    descriptions = []
    for entry in package["evidence"] + package["awaiting_crime_number"]:
        for description in entry["descriptions"]:
            parts = [description.get(k) for k in ("gender", "build", "complexion", "eye_colour", "ethnicity")]
            text = ", ".join(p for p in parts if p)
            if description["features"]:
                text += "; " + ", ".join(description["features"])
            descriptions.append(f"{entry['key']}: {text}")
    blocks += [("heading", "Descriptions"), ("items", descriptions)]
    links = [f"{link['a']} ↔ {link['b']} (score {link['score']:.2f}): {'; '.join(link['why'])}"
             for link in package["links"]]
    blocks += [("heading", "Why these incidents are linked"), ("items", links)]
    return blocks


_SOURCES = {"retailer-report": "in the retailer's report", "retailer-update": "sent later by the retailer",
            "force": "entered by the force"}


def _crime_number(entry: dict[str, Any]) -> str:
    """The crime number and where it came from: a lead force asks whether the retailer reported it or added it."""
    number = entry["crime_number"]
    if not number:
        return "-"
    source = _SOURCES.get(entry.get("crime_number_source", ""), "")
    via = f", {entry['crime_number_via']}" if entry.get("crime_number_via") else ""
    return f"{number} ({source}{via})" if source else number


def _cells(entry: dict[str, Any], status: bool = False) -> list[str]:
    vehicles = ", ".join(v["registration"] or "?" for v in entry["vehicles"]) or "-"
    middle = entry["eligibility"] if status else _crime_number(entry)
    return [entry["occurred_at"][:16], entry["force_id"], entry["store"], f"{entry['retailer']}/{entry['incident_id']}",
            middle, ", ".join(entry["tactics"]), _pounds(entry["value_pence"]), vehicles]


def render_markdown(package: dict[str, Any]) -> str:
    """Markdown in which every value is literal text (``crimelink.safe_text.markdown_text``)."""
    lines: list[str] = []
    for kind, content in _document(package):
        if kind == "title":
            lines += [f"# {markdown_text(content)}", ""]
        elif kind == "heading":
            lines += ["", f"## {markdown_text(content)}", ""]
        elif kind == "fields":
            lines += [f"**{name}:** {markdown_text(value)}  " for name, value in content]
        elif kind == "table":
            headers, rows = content
            lines.append("| " + " | ".join(headers) + " |")
            lines.append("|" + "---|" * len(headers))
            lines += ["| " + " | ".join(markdown_text(cell) for cell in row) + " |" for row in rows]
        elif kind == "items":
            lines += [f"- {markdown_text(item)}" for item in content]
        else:
            lines.append(markdown_text(content))
    return "\n".join(lines) + "\n"


def render_html(package: dict[str, Any]) -> str:
    """A printable page, every value escaped (``crimelink.safe_text.html_text``); no front-end build needed."""
    body: list[str] = []
    for kind, content in _document(package):
        if kind == "title":
            body.append(f"<h1>{html_text(content)}</h1>")
        elif kind == "heading":
            body.append(f"<h2>{html_text(content)}</h2>")
        elif kind == "fields":
            body += [f"<p><b>{html_text(name)}:</b> {html_text(value)}</p>" for name, value in content]
        elif kind == "table":
            headers, rows = content
            body.append("<table><tr>" + "".join(f"<th>{html_text(h)}</th>" for h in headers) + "</tr>")
            body += ["<tr>" + "".join(f"<td>{html_text(cell)}</td>" for cell in row) + "</tr>" for row in rows]
            body.append("</table>")
        elif kind == "items":
            body.append("<ul>" + "".join(f"<li>{html_text(item)}</li>" for item in content) + "</ul>")
        else:
            body.append(f"<p>{html_text(content)}</p>")
    style = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:75rem}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccd;padding:.2rem .4rem;font-size:.9rem;text-align:left}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Evidence "
            f"{html_text(package['series_id'])}</title><style>{style}</style></head><body>{''.join(body)}</body></html>")
