"""Erasing one incident from every table (``crimelink erase``, DPA 2018 s.47): the rows that name it, found the way
each table names an incident, deleted synchronously so that the answer to the erasure is true when it is given.

``incidents_daily`` holds counts per day, force and retailer, no incident: it is left as it is. The access log keeps
its rows: the record of what was done with the incident, the erasure included, is what s.62 asks to keep.
"""

from __future__ import annotations

import json

from crimelink.sinks.clickhouse import ClickHouseStore

__all__ = ["ERASED_FROM", "erase_incident", "mentions"]

_BY_ID = "retailer = {retailer:String} AND incident_id = {incident_id:String}"
ERASED_FROM: dict[str, str] = {
    "incidents": _BY_ID,
    "incident_identities": _BY_ID,
    "dead_letters": _BY_ID,
    "retailer_feedback": _BY_ID,
    "links": "a = {key:String} OR b = {key:String}",
    "series": "has(members, {key:String})",
    "alerts": "position(evidence_json, {quoted_key:String}) > 0",
    # a row the store refused keeps its message: an incident's names it by both its retailer and its id
    "sink_rejects": "position(payload, {quoted_id:String}) > 0 AND position(payload, {quoted_retailer:String}) > 0",
}
"""Each table and the condition on its rows that name one incident."""


def _parameters(retailer: str, incident_id: str) -> dict[str, str]:
    key = f"{retailer}:{incident_id}"
    return {"retailer": retailer, "incident_id": incident_id, "key": key, "quoted_key": json.dumps(key),
            "quoted_id": json.dumps(incident_id), "quoted_retailer": json.dumps(retailer)}


def mentions(store: ClickHouseStore, retailer: str, incident_id: str) -> dict[str, int]:
    """How many rows of each table name the incident."""
    parameters = _parameters(retailer, incident_id)
    return {table: int(store.query(f"SELECT count() FROM {table} WHERE {condition}", parameters).rows[0][0])
            for table, condition in ERASED_FROM.items()}


def erase_incident(store: ClickHouseStore, retailer: str, incident_id: str) -> dict[str, int]:
    """Delete every row that names the incident; returns how many went from each table."""
    found = mentions(store, retailer, incident_id)
    parameters = _parameters(retailer, incident_id)
    for table, count in found.items():
        if count:
            store.command(f"ALTER TABLE {table} DELETE WHERE {ERASED_FROM[table]}", parameters,
                          settings={"mutations_sync": 2})
    return found
