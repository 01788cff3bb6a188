"""Which features two incidents share, and how strongly that says 'the same offenders'.

Blocking keys decide which earlier incidents are compared at all (never all of them); the score
combines independent pieces of evidence as a noisy-or, 1 - prod(1 - weight), so no single weak
coincidence can make a strong link, and a physically impossible journey vetoes the link.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from crimelink.schemas.correlation import Case, CaseDescription, LinkEvidence

__all__ = ["blocking_keys", "prepare", "score_link", "STRONG", "WEAK", "MAX_SPEED_KMH"]

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
    """Index keys: a shared key makes two incidents candidates for linking.

    Every pair that could reach a lead shares a key: a vehicle, a distinguishing feature, four
    agreeing NPCC descriptors together with two shared tactics (a description alone scores at most
    0.5, below a lead, so it is never a key on its own, and a description shared by thousands of
    people does not make thousands of candidates), or, for a lead on modus operandi alone, the same
    three or more tactics and the same goods.
    """
    keys = [f"veh:{v.registration}" for v in case.vehicles if v.valid and v.registration]
    if len(case.tactics) >= 3 and case.goods:
        keys.append("mo:" + ",".join(case.tactics) + "|" + ",".join(case.goods))
    pairs = [f"{first},{second}" for index, first in enumerate(case.tactics) for second in case.tactics[index + 1:]]
    for description in case.descriptions:
        for descriptors in _four_descriptor_signatures(description):
            keys.extend(f"desc:{descriptors}|{pair}" for pair in pairs)
        keys.extend(f"feat:{feature}" for feature in description.features)
    return sorted(set(keys))


def _four_descriptor_signatures(description: CaseDescription) -> list[str]:
    """Each choice of four of the description's NPCC descriptors, the fifth written '*': two descriptions
    that agree on four without conflict (what a descriptor match needs) share at least one."""
    values = [getattr(description, name) for name in _CORE]
    present = [index for index, value in enumerate(values) if value]
    if len(present) < 4:
        return []
    left_out = present if len(present) == len(_CORE) else [index for index in range(len(_CORE)) if index not in present]
    return ["|".join("*" if index == skip else str(value) for index, value in enumerate(values)) for skip in left_out]


@dataclass(frozen=True, slots=True)
class _Profile:
    """The sets and tuples scoring compares, computed once per case instead of once per comparison."""

    vehicles: frozenset[str]
    tactics: frozenset[str]
    goods: frozenset[str]
    descriptions: tuple[tuple[tuple[str | None, ...], frozenset[str]], ...]
    features: frozenset[str]  # of every description
    full_description: bool  # some description has the four NPCC descriptors a descriptor match needs


def prepare(case: Case) -> _Profile:
    """Scoring's view of a case, computed once (when it is indexed) and kept on the case."""
    private = case.__pydantic_private__  # read directly: BaseModel.__getattr__ is slow on this hot path
    cached = private.get("_profile") if private is not None else None
    if cached is None:
        cached = _Profile(
            vehicles=frozenset(v.registration for v in case.vehicles if v.valid and v.registration),
            tactics=frozenset(case.tactics), goods=frozenset(case.goods),
            descriptions=tuple((tuple(getattr(d, name) for name in _CORE), frozenset(d.features))
                               for d in case.descriptions),
            features=frozenset(feature for d in case.descriptions for feature in d.features),
            full_description=any(sum(1 for name in _CORE if getattr(d, name)) >= 4 for d in case.descriptions),
        )
        case._profile = cached  # noqa: SLF001
    return cached


def _descriptor_match(left: tuple[str | None, ...], right: tuple[str | None, ...]) -> tuple[int, int]:
    agree = conflict = 0
    for first, second in zip(left, right, strict=True):
        if first and second:
            if first == second:
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


def score_link(a: Case, b: Case, is_common_feature: Callable[[str], bool],
               min_score: float = 0.0) -> tuple[float, list[LinkEvidence]]:
    """Score and explanation for 'a and b are the same offenders'; 0 when nothing links them or travel is impossible.

    Below ``min_score`` the explanation is not built (most candidates end there) and the score may be
    returned as 0: when neither a vehicle nor a feature is shared, the best the descriptions could add is
    bounded, and a candidate that cannot reach ``min_score`` even so is not compared description by description.
    """
    left, right = prepare(a), prepare(b)
    parts: list[tuple[str, float, Callable[[], str]]] = []  # (feature, weight, detail), details rendered if kept
    if left.vehicles and right.vehicles:
        for registration in sorted(left.vehicles & right.vehicles):
            parts.append(("vehicle", _VEHICLE, lambda registration=registration: f"same vehicle {registration}"))

    shared_tactics = left.tactics & right.tactics
    if len(shared_tactics) >= 2:
        tactic_similarity = len(shared_tactics) / len(left.tactics | right.tactics)
        if tactic_similarity >= 0.66:
            goods_union = left.goods | right.goods
            goods_similarity = len(left.goods & right.goods) / len(goods_union) if goods_union else 0.0
            base = _MO_MORE if len(shared_tactics) >= 3 else _MO_TWO
            weight = round(base * tactic_similarity * (0.5 + 0.5 * goods_similarity), 3)
            parts.append(("modus-operandi", weight,
                          lambda: f"tactics {', '.join(sorted(shared_tactics))} (similarity {tactic_similarity:.2f}); "
                                  f"goods similarity {goods_similarity:.2f}"))

    if (not parts or parts[0][0] != "vehicle") and not (left.features & right.features):
        at_most = _DESCRIPTOR_5 if left.full_description and right.full_description else 0.0
        mo_weight = parts[-1][1] if parts else 0.0  # no vehicle: the only part so far is the modus operandi
        if 1 - (1 - at_most) * (1 - mo_weight) < min_score:
            return 0.0, []

    used: set[int] = set()
    for core, features in left.descriptions:
        best: tuple[float, int, int, list[str]] | None = None
        for index, (other_core, other_features) in enumerate(right.descriptions):
            if index in used:
                continue
            agree, conflict = _descriptor_match(core, other_core)
            weight = 0.0
            if conflict == 0 and agree >= 4:
                weight = _DESCRIPTOR_5 if agree == 5 else _DESCRIPTOR_4
            shared = features & other_features
            rare = sorted(f for f in shared if not is_common_feature(f)) if shared else []
            if rare and conflict == 0 and agree >= 2:
                weight = 1 - (1 - weight) * (1 - _FEATURE)
            if weight and (best is None or weight > best[0]):
                best = (weight, index, agree, rare)
        if best is not None:
            used.add(best[1])
            parts.append(("descriptors", round(best[0], 3), lambda agree=best[2], rare=best[3]: (
                f"{agree} matching NPCC descriptors" + (f", shared feature {', '.join(rare)}" if rare else ""))))

    if not parts:
        return 0.0, []
    remaining = 1.0
    for _, weight, _ in parts:
        remaining *= 1 - weight
    score = 1 - remaining
    counts_differ = bool(a.offender_count and b.offender_count and abs(a.offender_count - b.offender_count) > 2)
    if counts_differ:
        score *= 0.7
    if score < min_score:
        return round(score, 4), []
    distance = _distance_km(a, b)
    hours = abs((b.start - a.start).total_seconds()) / 3600
    if distance is not None and distance > 5 and distance / max(hours, 1 / 60) > MAX_SPEED_KMH:
        return 0.0, [LinkEvidence.model_construct(feature="travel", weight=-1.0,
                                                  detail=f"{distance:.0f} km in {hours * 60:.0f} min is not possible by road")]
    # Evidence is built here from known values: constructed, not validated (this runs for every link).
    evidence = [LinkEvidence.model_construct(feature=feature, weight=weight, detail=detail())
                for feature, weight, detail in parts]
    if counts_differ:
        evidence.append(LinkEvidence.model_construct(feature="offender-count", weight=-0.3,
                                                     detail=f"offender counts differ ({a.offender_count} vs {b.offender_count})"))
    return round(score, 4), evidence
