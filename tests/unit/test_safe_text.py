"""Values from feeds shown safely: Markdown tables keep their columns, HTML escapes, CSV formulas are neutralised,
the terminal shows control characters instead of obeying them."""

from __future__ import annotations

import re

from crimelink.linkage.evidence import render_html, render_markdown
from crimelink.safe_text import csv_cell, html_text, markdown_text, terminal_text


def test_markdown_text_cannot_break_a_table_or_add_markup() -> None:
    text = markdown_text("a | b\n## c [link](http://x) <b>*y*</b>")
    assert "\n" not in text and not re.search(r"(?<!\\)\|", text) and "\\[" in text and "\\<" in text
    assert "\\*" in text


def test_csv_cells_that_would_run_are_neutralised() -> None:
    for value in ("=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(value) == "'" + value
    assert csv_cell(-5) == -5 and csv_cell("KX19 TRV") == "KX19 TRV"


def test_terminal_text_shows_control_characters() -> None:
    assert terminal_text("\x1b[31mred\x07") == "\\x1b[31mred\\x07"
    assert terminal_text("a\nb") == "a\\nb" and terminal_text("\u202eevil") == "\\u202eevil"


def test_html_text_escapes_quotes_too() -> None:
    assert html_text("<a href='x'>\"") == "&lt;a href=&#x27;x&#x27;&gt;&quot;"


def _package(incident_id: str) -> dict[str, object]:
    entry = {"key": f"r:{incident_id}", "retailer": "r", "incident_id": incident_id, "revision": 1,
             "occurred_at": "2026-11-30T10:00:00", "store": "Store <1>", "force_id": "kent", "force": "Kent",
             "region_id": "ersou", "crime_number": "46/KT/000001/25", "eligibility": "referable",
             "eligibility_reason": "", "tactics": ["DST02"], "goods": ["RZR"], "value_pence": 100, "offender_count": 1,
             "descriptions": [{"gender": "male", "features": ["<script>alert(1)</script>"]}], "vehicles": []}
    return {"series_id": "S-1", "alert_level": 1, "lead_force": "kent", "lead_reason": "most incidents",
            "forces": ["kent"], "regions": [{"id": "ersou", "name": "ERSOU"}], "first_seen": "2026-11-30T10:00",
            "last_seen": "2026-11-30T10:00", "tactics": ["DST02"], "goods": ["RZR"],
            "totals": {"incidents": 1, "referable": 1, "awaiting_crime_number": 0, "value_pence": 100,
                       "referable_value_pence": 100},
            "evidence": [entry], "awaiting_crime_number": [], "vehicles": [], "links": []}


def test_an_incident_id_with_pipes_cannot_move_the_crime_number_column() -> None:
    package = _package("X | 99/XX/FORGED/25 | more")
    row = next(line for line in render_markdown(package).splitlines() if "FORGED" in line)
    cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]]
    assert len(cells) == 8 and cells[4] == "46/KT/000001/25"
    page = render_html(package)
    forged_row = next(r for r in re.findall(r"<tr>(.*?)</tr>", page) if "FORGED" in r)
    assert forged_row.count("<td>") == 8 and "<script>" not in page and "&lt;script&gt;" in page
