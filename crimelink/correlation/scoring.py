"""Which features two incidents share, and how strongly that says 'the same offenders'.

Blocking keys decide which earlier incidents are compared at all (never all of them); the score
combines independent pieces of evidence as a noisy-or, 1 - prod(1 - weight), so no single weak
coincidence can make a strong link, and a physically impossible journey vetoes the link.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from schemas.correlation import Case, CaseDescription, LinkEvidence

__all__ = ["blocking_keys", "score_link", "STRONG", "WEAK", "MAX_SPEED_KMH"]

STRONG = 0.85  # joins series
WEAK = 0.6  # kept as a lead, never joins series
MAX_SPEED_KMH = 130.0
_CORE = ("gender", "build", "complexion", "eye_colour", "ethnicity")
_VEHICLE = 0.9
_MO_TWO = 0.45  # two shared tactics
_MO_MORE = 0.6  # three or more shared tactics: a signature, not a coincidence
_DESCRIPTOR_4 = 0.4
_DESCRIPTOR_5 = 0.5
_FEATURE = 0.6


def blocking_keys(case: Case) -> list[str]:
    """Index keys: a shared key makes two incidents candidates for linking."""
    keys = [f"veh:{v.registration}" for v in case.vehicles if v.valid and v.registration]
    if len(case.tactics) >= 2:
        keys.append("mo:" + ",".join(case.tactics))
    for description in case.descriptions:
        if sum(1 for name in _CORE if getattr(description, name)) >= 4:
            keys.append("desc:" + "|".join(str(getattr(description, name) or "-") for name in _CORE))
        keys.extend(f"feat:{feature}" for feature in description.features)
    return sorted(set(keys))


def _descriptor_match(a: CaseDescription, b: CaseDescription) -> tuple[int, int]:
    agree = conflict = 0
    for name in _CORE:
        left, right = getattr(a, name), getattr(b, name)
        if left and right:
            if left == right:
                agree += 1
            else:
                conflict += 1
    return agree, conflict


def _distance_km(a: Case, b: Case) -> float | None:
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))  # type: ignore[arg-type]
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(h))


def score_link(a: Case, b: Case, is_common_feature: Callable[[str], bool]) -> tuple[float, list[LinkEvidence]]:
    """Score and explanation for 'a and b are the same offenders'; 0 when nothing links them or travel is impossible."""
    evidence: list[LinkEvidence] = []
    shared_vehicles = ({v.registration for v in a.vehicles if v.valid} & {v.registration for v in b.vehicles if v.valid})
    for registration in sorted(r for r in shared_vehicles if r):
        evidence.append(LinkEvidence(feature="vehicle", detail=f"same vehicle {registration}", weight=_VEHICLE))

    shared_tactics = set(a.tactics) & set(b.tactics)
    if len(shared_tactics) >= 2:
        tactic_similarity = len(shared_tactics) / len(set(a.tactics) | set(b.tactics))
        goods_union = set(a.goods) | set(b.goods)
        goods_similarity = len(set(a.goods) & set(b.goods)) / len(goods_union) if goods_union else 0.0
        if tactic_similarity >= 0.66:
            base = _MO_MORE if len(shared_tactics) >= 3 else _MO_TWO
            weight = round(base * tactic_similarity * (0.5 + 0.5 * goods_similarity), 3)
            evidence.append(LinkEvidence(
                feature="modus-operandi", weight=weight,
                detail=f"tactics {', '.join(sorted(shared_tactics))} (similarity {tactic_similarity:.2f}); "
                       f"goods similarity {goods_similarity:.2f}"))

    used: set[int] = set()
    for left in a.descriptions:
        best: tuple[float, int, str] | None = None
        for index, right in enumerate(b.descriptions):
            if index in used:
                continue
            agree, conflict = _descriptor_match(left, right)
            weight = 0.0
            if conflict == 0 and agree >= 4:
                weight = _DESCRIPTOR_5 if agree == 5 else _DESCRIPTOR_4
            rare = sorted(set(left.features) & set(right.features) - {f for f in left.features if is_common_feature(f)})
            if rare and conflict == 0 and agree >= 2:
                weight = 1 - (1 - weight) * (1 - _FEATURE)
            if weight and (best is None or weight > best[0]):
                detail = f"{agree} matching NPCC descriptors" + (f", shared feature {', '.join(rare)}" if rare else "")
                best = (weight, index, detail)
        if best is not None:
            used.add(best[1])
            evidence.append(LinkEvidence(feature="descriptors", detail=best[2], weight=round(best[0], 3)))

    if not evidence:
        return 0.0, []
    score = 1.0
    for item in evidence:
        score *= 1 - item.weight
    score = 1 - score
    if a.offender_count and b.offender_count and abs(a.offender_count - b.offender_count) > 2:
        score *= 0.7
        evidence.append(LinkEvidence(feature="offender-count", weight=-0.3,
                                     detail=f"offender counts differ ({a.offender_count} vs {b.offender_count})"))
    distance = _distance_km(a, b)
    hours = abs((b.start - a.start).total_seconds()) / 3600
    if distance is not None and distance > 5 and distance / max(hours, 1 / 60) > MAX_SPEED_KMH:
        return 0.0, [LinkEvidence(feature="travel", weight=-1.0,
                                  detail=f"{distance:.0f} km in {hours * 60:.0f} min is not possible by road")]
    return round(score, 4), evidence
