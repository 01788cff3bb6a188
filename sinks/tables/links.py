"""``links``: each pair of incidents the correlator linked, with the evidence and its weights."""

from __future__ import annotations

from typing import Any

from crimelink.pseudonyms import Pseudonymiser
from crimelink.sinks.tables.base import INGESTED_AT, Column, Row, Table, as_json, as_time

__all__ = ["TABLE", "row"]


def row(link: Row, pseudonyms: Pseudonymiser) -> list[Any]:
    evidence = [_pseudonymised(item, pseudonyms) for item in link["evidence"]]
    return [link["a"], link["b"], link["score"], link["strong"], sorted({e["feature"] for e in evidence}),
            "; ".join(f"{e['feature']}: {e['detail']}" for e in evidence), as_json(evidence), as_time(link["at"])]


_SAME_VEHICLE = "same vehicle "


def _pseudonymised(item: Row, pseudonyms: Pseudonymiser) -> Row:
    """One piece of evidence with the registration or the distinguishing features it quotes as pseudonyms
    (``crimelink.linkage.scoring`` writes them as "same vehicle <registration>" and "..., shared feature a, b")."""
    detail = item["detail"]
    if item["feature"] == "vehicle" and detail.startswith(_SAME_VEHICLE):
        detail = _SAME_VEHICLE + pseudonyms.registration(detail[len(_SAME_VEHICLE):])
    elif item["feature"] == "descriptors":
        detail = pseudonyms.feature_text(detail)
    return {**item, "detail": detail}


TABLE = Table(
    name="links",
    columns=(
        Column("a", "String", "earlier incident (retailer:incident_id)"),
        Column("b", "String", "later incident"),
        Column("score", "Float32", "1 - prod(1 - evidence weight): 0.85+ strong, 0.6-0.85 weak"),
        Column("strong", "Bool", "strong links join series; weak ones are leads"),
        Column("features", "Array(LowCardinality(String))", "kinds of evidence: vehicle, modus-operandi, descriptors, "
                                                            "offender-count"),
        Column("explanation", "String", "why, in words (registrations and features as pseudonyms)"),
        Column("evidence_json", "String", "each piece of evidence with its weight"),
        Column("at", "DateTime64(3, 'UTC')", "event time of the later incident"),
        INGESTED_AT,
    ),
    engine="ReplacingMergeTree",
    partition_by="toYYYYMM(at)",
    order_by="(a, b)",
    ttl="toDateTime(at) + INTERVAL {retention_days} DAY",
    row=row,
    topic="links",
)
