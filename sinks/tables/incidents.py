"""``incidents``: every normalised, gated incident revision (from the checked-incidents topic), and the
``incidents_latest`` view with one row per incident."""

from __future__ import annotations

from typing import Any

from crimelink.pseudonyms import Pseudonymiser
from crimelink.sinks.tables.base import INGESTED_AT, Column, Index, Row, Table, as_json, as_time

__all__ = ["TABLE", "LATEST_VIEW", "row", "version", "valid_registrations"]

_EPOCH_2020_MS = 1_577_836_800_000


def version(incident: Row) -> int:
    """revision << 40 | ms since 2020 of the last status change: the newest row of the newest revision wins."""
    changed = as_time(incident["status_changed_at"] or incident["received_at"])
    assert changed is not None
    millis = int(changed.timestamp() * 1000) - _EPOCH_2020_MS
    return (incident["revision"] << 40) | max(0, min(millis, (1 << 40) - 1))


def valid_registrations(incident: Row) -> list[str]:
    """The incident's registrations that read as UK ones, normalised: the ones crimelink counts, joins and searches."""
    return [v["registration"] for v in incident["vehicles"] if v["registration"] and v["registration_valid"]]


def row(incident: Row, pseudonyms: Pseudonymiser) -> list[Any]:
    store, occurred, reference, goods = incident["store"], incident["occurred"], incident["crime_reference"], incident["goods"]
    source = incident["source"] or {"topic": "", "partition": 0, "offset": 0}
    return [
        incident["retailer"], incident["incident_id"], incident["revision"], version(incident), incident["feed_format"],
        store["store_id"], store["name"], store["postcode"], store["latitude"], store["longitude"], store["force_id"],
        store["region_id"], as_time(occurred["start"]), as_time(occurred["end"]), occurred["source_local_time"],
        incident["offence_code"], sorted({line["category"] for line in goods}), sum(line["quantity"] for line in goods),
        incident["total_value_pence"], as_json(goods), [tactic["code"] for tactic in incident["tactics"]],
        incident["offenders"]["count"], as_json(_offenders(incident["offenders"], pseudonyms)),
        [pseudonyms.registration(registration) for registration in valid_registrations(incident)],
        as_json([_vehicle(vehicle, pseudonyms) for vehicle in incident["vehicles"]]), incident["violence"],
        incident["threats"], incident["weapon"], incident["cctv_available"], reference["force_id"], reference["raw"],
        reference["normalised"], reference["status"],
        reference["reason"], reference.get("source", "retailer-report"), reference.get("via", ""),
        incident["eligibility"], incident["eligibility_reason"], as_time(incident["pending_deadline"]),
        as_time(incident["status_changed_at"]), incident["narrative"], incident["unmapped_codes"],
        as_time(incident["reported_at"]), as_time(incident["received_at"]), source["topic"], source["partition"],
        source["offset"],
    ]


def _offenders(offenders: Row, pseudonyms: Pseudonymiser) -> Row:
    return {"count": offenders["count"],
            "descriptions": [pseudonyms.description(description) for description in offenders["descriptions"]]}


def _vehicle(vehicle: Row, pseudonyms: Pseudonymiser) -> Row:
    """A vehicle as the analysts see it: make, model and colour, and its registration as a pseudonym."""
    registration = vehicle["registration"] or vehicle["registration_raw"]
    return {"registration": pseudonyms.registration(registration) if registration else None,
            "registration_valid": vehicle["registration_valid"], "make": vehicle["make"], "model": vehicle["model"],
            "colour": vehicle["colour"]}


TABLE = Table(
    name="incidents",
    columns=(
        Column("retailer", "LowCardinality(String)", "retailer id (lower-case slug)"),
        Column("incident_id", "String", "the retailer's own incident id"),
        Column("revision", "UInt32", "the retailer's revision; a higher one supersedes a lower one"),
        Column("version", "UInt64", "revision << 40 | ms since 2020 of the last status change: the newest row of the "
                                    "newest revision wins"),
        Column("feed_format", "LowCardinality(String)", "feed format (adapter) the record arrived in"),
        Column("store_id", "String", "the retailer's store id"),
        Column("store_name", "String", "store name from the store registry"),
        Column("store_postcode", "Nullable(String)", "store postcode, when the registry has one"),
        Column("store_latitude", "Nullable(Float64)", "WGS84 latitude of the store"),
        Column("store_longitude", "Nullable(Float64)", "WGS84 longitude of the store"),
        Column("force_id", "LowCardinality(String)", "police force area of the store (data.police.uk force id)"),
        Column("region_id", "LowCardinality(String)", "regional organised crime unit covering the force"),
        Column("occurred_start", "DateTime64(3, 'UTC')", "when the offence happened (or began), UTC"),
        Column("occurred_end", "Nullable(DateTime64(3, 'UTC'))", "end of the time range, UTC; null for a point in time"),
        Column("source_local_time", "String", "the time exactly as the feed gave it"),
        Column("offence_code", "LowCardinality(String)", "Home Office offence code (046/00: theft from shops and stalls)"),
        Column("goods_categories", "Array(LowCardinality(String))", "controlled goods categories taken"),
        Column("goods_quantity", "UInt32", "units taken, all lines"),
        Column("total_value_pence", "UInt64", "retail value taken, pence"),
        Column("goods_json", "String", "goods lines: category, the retailer's wording, quantity, value"),
        Column("tactics", "Array(LowCardinality(String))", "controlled tactic codes"),
        Column("offender_count", "UInt8", "offenders seen (0: not known)"),
        Column("offenders_json", "String", "the offenders' count and, per description, a keyed pseudonym of each "
                                            "NPCC descriptor, each distinguishing feature and the whole combination "
                                            "(clear values: incident_identities)"),
        Column("vehicle_registrations", "Array(String)", "keyed pseudonyms of the valid registrations (search: "
                                                         "pseudonym('registration', 'AB12 CDE'))"),
        Column("vehicles_json", "String", "vehicles: make, model, colour, whether the registration is a valid UK "
                                          "one, and the registration as a pseudonym"),
        Column("violence", "Bool", "violence was used"),
        Column("threats", "Bool", "threats or abuse were made"),
        Column("weapon", "Bool", "a weapon was seen or implied"),
        Column("cctv_available", "Bool", "the retailer holds CCTV"),
        Column("crime_ref_force", "LowCardinality(String)", "force that issued (or should issue) the crime number"),
        Column("crime_ref_raw", "Nullable(String)", "crime reference exactly as sent"),
        Column("crime_ref_normalised", "Nullable(String)", "crime number in the force's canonical form, when valid"),
        Column("crime_ref_status", "LowCardinality(String)", "valid, invalid, incident_number or missing"),
        Column("crime_ref_reason", "String", "why the reference has that status"),
        Column("crime_ref_source", "LowCardinality(String)", "where the crime number came from: retailer-report (the "
                                                             "incident's record), retailer-update or force"),
        Column("crime_ref_via", "String", "the message that carried an update's crime number (topic/partition/offset) "
                                          "and who sent it (a force: its user); empty for the record's own"),
        Column("eligibility", "LowCardinality(String)", "referable, pending, invalid or expired"),
        Column("eligibility_reason", "String", "why the incident has that eligibility"),
        Column("pending_deadline", "Nullable(DateTime64(3, 'UTC'))", "when a pending or invalid incident expires "
                                                                     "without a valid crime number"),
        Column("status_changed_at", "Nullable(DateTime64(3, 'UTC'))", "when the crime-number gate last set the "
                                                                      "eligibility"),
        Column("narrative", "String", "free-text account as the retailer wrote it"),
        Column("unmapped_codes", "Array(String)", "feed codes no rule maps yet (tactic:X, goods:Y)"),
        Column("reported_at", "Nullable(DateTime64(3, 'UTC'))", "when the retailer says it reported the incident"),
        Column("received_at", "DateTime64(3, 'UTC')", "when crimelink read the raw record"),
        Column("source_topic", "LowCardinality(String)", "raw topic the record was read from"),
        Column("source_partition", "UInt32", "its partition"),
        Column("source_offset", "UInt64", "its offset"),
        INGESTED_AT,
    ),
    engine="ReplacingMergeTree(version)",
    partition_by="toYYYYMM(occurred_start)",
    order_by="(retailer, incident_id)",
    ttl="toDateTime(received_at) + INTERVAL {retention_days} DAY",
    comment="Every normalised incident revision; query incidents_latest for one row per incident",
    indexes=(
        Index("idx_force", "force_id", "set(64)"),
        Index("idx_region", "region_id", "set(16)"),
        Index("idx_time", "occurred_start", "minmax"),
        Index("idx_tactics", "tactics", "bloom_filter"),
        Index("idx_vehicles", "vehicle_registrations", "bloom_filter"),
    ),
    row=row,
    topic="checked",
)

LATEST_VIEW = """
CREATE VIEW IF NOT EXISTS {db}.incidents_latest AS
SELECT * FROM {db}.incidents FINAL
ORDER BY version DESC
LIMIT 1 BY retailer, incident_id
"""
