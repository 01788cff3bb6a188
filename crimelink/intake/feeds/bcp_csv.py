"""Business crime partnership export: CSV, one row per incident, UK dates and local times.

A partnership's system exports a file; ``crimelink ingest FILE --format bcp_csv`` streams it
into Kafka one row per message, each message carrying the header line and one data row so
that it can be read on its own. Columns::

    Report Ref, Member ID, Site Code, Site Name, Postcode, Incident Date, Incident Time,
    Offence, Goods, Value, Offender Count, Offender Description, Vehicle Reg,
    Vehicle Description, Police Force, Police Ref, Violence, CCTV, Details, Revision

Dates are dd/mm/yyyy, times HH:MM UK local, Value is pounds ("£45.00"), Police Force is a
force name as police.uk spells it or a force id.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from crimelink.intake.feeds._text import (
    description_from_text,
    goods_from_text,
    local_datetime,
    pounds_to_pence,
    vehicle_parts,
    yes_no,
)
from crimelink.intake.feeds.base import FeedAdapter, IncidentDraft, Problems, reject, tactics_from, vehicle
from crimelink.schemas.reference import forces

__all__ = ["ADAPTER", "COLUMNS", "OFFENCES", "to_message"]

FEED = "bcp_csv"
COLUMNS = [
    "Report Ref", "Member ID", "Site Code", "Site Name", "Postcode", "Incident Date", "Incident Time", "Offence",
    "Goods", "Value", "Offender Count", "Offender Description", "Vehicle Reg", "Vehicle Description", "Police Force",
    "Police Ref", "Violence", "CCTV", "Details", "Revision",
]
REQUIRED = ["Report Ref", "Member ID", "Site Code", "Incident Date", "Offence"]
#: Offence wording -> Home Office offence code. Only acquisitive offences against shops are taken.
OFFENCES = {"theft from shop": "046/00", "shoplifting": "046/00", "theft from shops and stalls": "046/00"}


def to_message(header: list[str], row: list[str]) -> bytes:
    """One Kafka message: the header line and one data row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerow(row)
    return buffer.getvalue().encode("utf-8")


def _force_id(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    known = forces()
    if value.lower() in known:
        return value.lower()
    by_name = {force.name.lower(): force.force_id for force in known.values()}
    return by_name.get(value.lower())


class BcpCsvAdapter(FeedAdapter):
    name = FEED
    retailer_field = "Member ID"
    description = "Business crime partnership CSV export: one row per message with its header, UK local times"
    encoding = "csv"
    example = ("\n".join([",".join(COLUMNS), 'BCP-2025-0101,tillco,TC0003,Tillco Discount,,14/06/2025,14:05,Theft from '
                          'shop,"6x Duracell batteries, 2x electric toothbrush",\u00a396.00,2,"female, heavy, IC1, black '
                          'cap",,,Lancashire Constabulary,LC/0123456/25,N,Y,"Two females distracted staff at the till '
                          'while a third cleared the shelf",1']) + "\n").encode()

    def record_schema(self) -> dict[str, Any]:
        """One message is the header line and one row; described here as the row's columns by name (all text)."""
        return {
            "title": "BcpCsvRow",
            "description": "One CSV row of the business crime partnership export. A message (or a line of the "
                           "gateway's text/csv body) has the header line first; columns may come in any order, and "
                           "those not required may be left out. Dates dd/mm/yyyy, times HH:MM UK local, Value in "
                           "pounds, Police Force a force id or its name as police.uk spells it, Violence and CCTV Y/N.",
            "type": "object",
            "properties": {column: {"type": "string", "title": column} for column in COLUMNS},
            "required": REQUIRED,
            "additionalProperties": False,
            "x-crimelink-encoding": "text/csv",
        }

    def parse(self, raw: bytes) -> IncidentDraft:
        row = self._row(raw)
        problems = Problems()
        for column in REQUIRED:
            if not row.get(column, "").strip():
                problems.add(column, "missing", f"'{column}' is required")
        problems.raise_if_any()
        start = problems.attempt(lambda: local_datetime(row["Incident Date"], row.get("Incident Time", ""),
                                                        "Incident Time", day_field="Incident Date"))
        value = problems.attempt(lambda: pounds_to_pence(row.get("Value") or "0", "Value"))
        violence = problems.attempt(lambda: yes_no(row.get("Violence"), "Violence"))
        cctv = problems.attempt(lambda: yes_no(row.get("CCTV"), "CCTV"))
        if OFFENCES.get(row["Offence"].strip().lower()) is None:
            problems.add("Offence", "unsupported-offence",
                         "only theft from shops is taken: " + ", ".join(sorted(OFFENCES)), row["Offence"])
        count = problems.attempt(lambda: _count(row.get("Offender Count", "")))
        revision = problems.attempt(lambda: _revision(row.get("Revision", "")))
        problems.raise_if_any()
        assert start is not None and value is not None
        description = description_from_text(row.get("Offender Description", ""))
        make, model, colour = vehicle_parts(row.get("Vehicle Description", ""))
        registration = row.get("Vehicle Reg", "").strip()
        details = row.get("Details", "")
        return IncidentDraft(
            retailer=row["Member ID"].strip().lower(),
            incident_id=row["Report Ref"].strip(),
            revision=revision or 1,
            store_id=row["Site Code"].strip(),
            occurred_start=start,
            occurred_end=None,
            source_local_time=f"{row['Incident Date']} {row.get('Incident Time', '')}".strip(),
            source_timezone="Europe/London",
            goods=goods_from_text(FEED, row.get("Goods", ""), value),
            tactics=tactics_from(FEED, [], details),
            offender_count=max(count or 0, 1 if description else 0),
            offender_descriptions=[description] if description else [],
            vehicles=[vehicle(registration or None, make, model, colour)] if registration or make else [],
            violence=bool(violence),
            threats=False,
            weapon=False,
            cctv_available=bool(cctv),
            crime_number=row.get("Police Ref", "").strip() or None,
            crime_number_force=_force_id(row.get("Police Force", "")),
            narrative=details,
        )

    def _row(self, raw: bytes) -> dict[str, str]:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise reject("$", "not-utf8", "the CSV must be UTF-8 encoded") from None
        try:
            rows = list(csv.reader(io.StringIO(text)))
        except csv.Error as error:
            raise reject("$", "not-csv", f"unreadable CSV: {error}", text[:200]) from None
        rows = [row for row in rows if any(cell.strip() for cell in row)]
        if len(rows) != 2:
            raise reject("$", "not-one-row", "each message must hold the header line and exactly one data row",
                         f"{len(rows)} non-empty lines")
        header, values = [cell.strip() for cell in rows[0]], rows[1]
        unknown = [name for name in header if name not in COLUMNS]
        if unknown:
            raise reject("$", "unknown-columns", "the header has columns this format does not define", ", ".join(unknown))
        if len(values) != len(header):
            raise reject("$", "column-count", f"the row has {len(values)} values for {len(header)} columns",
                         ",".join(values)[:200])
        return dict(zip(header, values, strict=True))

    def identify(self, raw: bytes) -> tuple[str | None, str | None]:
        try:
            row = self._row(raw)
            return row.get("Member ID") or None, row.get("Report Ref") or None
        except Exception:  # noqa: BLE001 - best effort on a record already refused
            return None, None


def _count(text: str) -> int:
    if not text.strip():
        return 0
    if not text.strip().isdigit() or int(text) > 100:
        raise reject("Offender Count", "not-a-count", "expected a whole number from 0 to 100", text)
    return int(text)


def _revision(text: str) -> int:
    if not text.strip():
        return 1
    if not text.strip().isdigit() or int(text) < 1:
        raise reject("Revision", "not-a-revision", "expected a whole number from 1", text)
    return int(text)


ADAPTER = BcpCsvAdapter()
