"""``incident_identities``: the clear registrations and offender descriptions of each incident revision, which the
analysts' ``incidents`` table holds only as keyed pseudonyms (``crimelink.pseudonyms``).

Restricted: analysts' free SQL cannot read it (``HIDDEN_FROM_ANALYSTS``); the worker reads it to show one incident in
full to an analyst or a force's liaison (``/api/incidents/{retailer}/{id}``), each read in the access log with its
reason.
"""

from __future__ import annotations

from typing import Any

from crimelink.pseudonyms import Pseudonymiser
from crimelink.sinks.tables import incidents
from crimelink.sinks.tables.base import INGESTED_AT, Column, Row, Table, as_json, as_time

__all__ = ["TABLE", "row"]


def row(incident: Row, pseudonyms: Pseudonymiser) -> list[Any]:
    valid = incidents.valid_registrations(incident)
    return [incident["retailer"], incident["incident_id"], incident["revision"], incidents.version(incident), valid,
            [pseudonyms.registration(registration) for registration in valid], as_json(incident["vehicles"]),
            as_json(incident["offenders"]), as_time(incident["received_at"])]


TABLE = Table(
    name="incident_identities",
    columns=(
        Column("retailer", "LowCardinality(String)", "retailer id"),
        Column("incident_id", "String", "the retailer's own incident id"),
        Column("revision", "UInt32", "the retailer's revision"),
        Column("version", "UInt64", "as incidents.version: the newest row of the newest revision wins"),
        Column("vehicle_registrations", "Array(String)", "valid normalised UK registrations, in clear"),
        Column("registration_pseudonyms", "Array(String)", "their pseudonyms, as incidents.vehicle_registrations"),
        Column("vehicles_json", "String", "vehicles as reported: registration as sent and normalised, make, model, "
                                          "colour"),
        Column("offenders_json", "String", "offender count and NPCC descriptions, in clear"),
        Column("received_at", "DateTime64(3, 'UTC')", "when crimelink read the raw record"),
        INGESTED_AT,
    ),
    engine="ReplacingMergeTree(version)",
    partition_by="toYYYYMM(received_at)",
    order_by="(retailer, incident_id, revision)",
    ttl="toDateTime(received_at) + INTERVAL {retention_days} DAY",
    comment="Clear registrations and descriptions, restricted: read only by the worker, every read logged",
    row=row,
    topic="checked",
)
