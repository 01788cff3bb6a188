"""The correlator: index each incident by its blocking keys, link it to earlier ones, grow series,
and raise or escalate an alert when a series spans enough forces and regions.

State lives in mutable mappings (Faust tables in the worker, dicts in tests and benchmarks):
cases by key, posting lists by blocking key, series by id, and each case's series. Everything
older than the window (by event time) is swept out, so memory is bounded by the window.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import zip_longest
from typing import Any

from crimelink.linkage.evidence import build_package, render_markdown
from crimelink.linkage.scoring import STRONG, WEAK, blocking_keys, prepare, score_link
from crimelink.schemas.correlation import Alert, Case, Link, Series
from crimelink.schemas.stored import load_stored

__all__ = ["CorrelatorConfig", "CorrelationOutcome", "Correlator", "CorrelatorState"]

_WATERMARK = "__watermark__"  # earlier versions wrote the event-time watermark into the series table under this key
SERIES_SUPPORT = 0.95  # combined support from several weaker links that admits a case to a series
MERGE_SUPPORT = 0.97  # support needed towards each of two existing series to merge them


@dataclass(frozen=True)
class CorrelatorConfig:
    window: timedelta = timedelta(days=28)
    min_forces: int = 3
    min_regions: int = 2
    max_posting: int = 200  # candidates kept per blocking key (most recent)
    max_mo_candidates: int = 50  # a tactic signature alone is weak evidence: compare only its most recent users
    # Descriptors and two tactics are what look-alikes share: however many do, compare only the most recent
    # ones, so the cost of linking an incident does not grow with how full the window is.
    max_description_candidates: int = 10
    common_feature_share: float = 0.01  # a feature on more than this share of cases is not distinguishing
    common_feature_floor: int = 50
    max_series_links: int = 500


@dataclass
class CorrelatorState:
    cases: MutableMapping[str, Any]
    postings: dict[str, Any]  # derived from cases: plain memory, rebuilt after a restart
    series: MutableMapping[str, Any]
    series_of: MutableMapping[str, Any]

    @classmethod
    def in_memory(cls) -> CorrelatorState:
        return cls({}, {}, {}, {})


@dataclass
class CorrelationOutcome:
    links: list[Link] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


class Correlator:
    def __init__(self, state: CorrelatorState, config: CorrelatorConfig | None = None) -> None:
        self.state = state
        self.config = config or CorrelatorConfig()
        # Parsed cases, so candidates are not re-validated from the table on every comparison. Only this
        # process writes the tables (one partition), so the cache cannot go stale; after a restart it refills.
        self._cache: dict[str, Case] = {}
        # How many held cases show each distinguishing feature (the capped posting lists cannot tell).
        self._feature_counts: Counter[str] = Counter()
        # Event time: the latest start among held cases, each bounded by when crimelink received it
        # (:func:`_event_time`). Derived like the index, so it costs no changelog write per incident.
        self._latest: datetime | None = None
        # (start, key) of every held case, earliest first, so a sweep pops what left the window instead of reading
        # every case; an entry whose case has gone or moved is skipped when popped.
        self._by_start: list[tuple[datetime, str]] = []
        self._index_ready = False

    # --- reading state -------------------------------------------------------------------------

    def case(self, key: str) -> Case | None:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        raw = self.state.cases.get(key)
        if raw is None:
            return None
        parsed = self._cache[key] = load_stored(Case, raw)
        return parsed

    def series(self, series_id: str) -> dict[str, Any] | None:
        raw = self.state.series.get(series_id)
        return None if raw is None else dict(raw)

    def _watermark(self) -> datetime | None:
        return self._latest

    def _is_common_feature(self, feature: str) -> bool:
        case_count = max(len(self.state.cases) - 1, 0)
        threshold = max(self.config.common_feature_floor, self.config.common_feature_share * case_count)
        return self._feature_counts[feature] > threshold

    # --- the work ------------------------------------------------------------------------------

    def rebuild_index(self) -> int:
        """Rebuild the posting lists from the cases (after a restart: the index is derived state, so the worker
        keeps it in memory instead of writing every posting-list change to a changelog). Returns the cases indexed."""
        self.state.postings.clear()
        self._feature_counts.clear()
        self._cache.clear()
        cases = sorted((load_stored(Case, raw) for raw in list(self.state.cases.values())), key=lambda case: case.start)
        for case in cases:
            self._cache[case.key] = case
            self._index(case)
        self._by_start = [(case.start, case.key) for case in cases]  # sorted: already a heap
        self._latest = max(map(_event_time, cases), default=None)
        if _WATERMARK in self.state.series:  # written per incident by earlier versions; now derived
            del self.state.series[_WATERMARK]
        self._index_ready = True
        return len(cases)

    def recovered(self) -> None:
        """The tables were written past this correlator (recovered from their changelogs after a rebalance, perhaps
        from another worker's writes): the index, the parsed cases and event time are rebuilt on next use."""
        self._index_ready = False

    def hold(self, case: Case) -> None:
        """Keep and index a case without linking it (how benchmarks fill a window quickly)."""
        self._store(case)
        self._index(case)

    def _store(self, case: Case) -> None:
        known = self._cache.get(case.key)
        self.state.cases[case.key] = case.model_dump_json()  # one string (crimelink.schemas.stored): a third of a dict's memory
        self._cache[case.key] = case
        if known is None or known.start != case.start:
            heapq.heappush(self._by_start, (case.start, case.key))
        moment = _event_time(case)
        if self._latest is None or moment > self._latest:
            self._latest = moment

    def _index(self, case: Case, keys: list[str] | None = None) -> None:
        self._feature_counts.update(prepare(case).features)
        postings = self.state.postings
        for key in blocking_keys(case) if keys is None else keys:
            posting = postings.get(key)
            if posting is None:
                postings[key] = [case.key]
                continue
            posting.append(case.key)
            if len(posting) > self.config.max_posting:
                del posting[0]

    def on_incident(self, case: Case) -> CorrelationOutcome:
        """Link a new incident (or update a known one: eligibility changes do not re-link)."""
        if not self._index_ready:
            self.rebuild_index()
        outcome = CorrelationOutcome()
        watermark = self._watermark()
        if watermark is not None and case.start < watermark - self.config.window:
            return outcome  # older than the window: nothing in memory to link it to
        known = self.case(case.key)
        self._store(case)
        if known is not None:
            series_id = self.state.series_of.get(case.key)
            if series_id is not None and known.eligibility != case.eligibility:
                updated = self._refresh(series_id)
                if updated is not None:
                    outcome.series.append(updated)
            return outcome

        keys = blocking_keys(case)
        links = self._links_for(case, keys)
        outcome.links.extend(links)
        self._index(case, keys)
        series_id = self._join(case, links)
        if series_id is None:
            return outcome
        refreshed = self._refresh(series_id, new_links=[link for link in links if self._counts(link)])
        if refreshed is not None:
            outcome.series.append(refreshed)
            alert = self._evaluate_alert(refreshed)
            if alert is not None:
                outcome.alerts.append(alert)
        return outcome

    @staticmethod
    def _counts(link: Link) -> bool:
        """Links that may support series membership: strong ones, or weak ones with specific evidence about the
        people (a full description or a distinguishing feature) or the vehicle. A shared modus operandi, or four
        common descriptors, is what unrelated look-alikes share, so it never accumulates."""
        return link.strong or any(item.feature == "vehicle" or (item.feature == "descriptors" and item.weight >= 0.5)
                                  for item in link.evidence)

    def _candidates(self, keys: list[str], common: set[str]) -> Iterator[str]:
        """Keys of earlier incidents worth scoring: everyone under a vehicle or a rare feature, the most recent
        users of a tactic signature, and the most recent look-alikes, taken in turn from each description key."""
        look_alikes = []
        for key in keys:
            if key.startswith("feat:") and key[5:] in common:
                continue  # a common feature adds nothing to a score: its users are not candidates for it
            posting = self.state.postings.get(key)
            if not posting:
                continue
            if key.startswith("desc:"):
                look_alikes.append(reversed(posting))
            elif key.startswith("mo:"):
                yield from posting[-self.config.max_mo_candidates:]
            else:
                yield from posting
        taken: set[str] = set()
        for row in zip_longest(*look_alikes):
            for other_key in row:
                if other_key is not None and other_key not in taken:
                    if len(taken) == self.config.max_description_candidates:
                        return
                    taken.add(other_key)
                    yield other_key

    def _links_for(self, case: Case, keys: list[str]) -> list[Link]:
        seen: set[str] = {case.key}
        links = []
        common = {feature for feature in prepare(case).features if self._is_common_feature(feature)}
        for other_key in self._candidates(keys, common):
            if other_key in seen:
                continue
            seen.add(other_key)
            other = self.case(other_key)
            if other is None or abs(other.start - case.start) > self.config.window:
                continue
            score, evidence = score_link(other, case, common.__contains__, min_score=WEAK)
            if score >= WEAK:
                first, second = (other, case) if other.start <= case.start else (case, other)
                # Built from validated cases by this code: construct, not validate (links grow with how full the window is).
                links.append(Link.model_construct(a=first.key, b=second.key, score=score, strong=score >= STRONG,
                                                  evidence=evidence, at=case.start))
        return links

    def _join(self, case: Case, links: list[Link]) -> str | None:
        """Put the case into a series, or nothing when the evidence is not strong enough.

        A case joins a series through one strong link, or through several weaker person/vehicle
        links to different members whose combined support, 1 - prod(1 - score), reaches
        SERIES_SUPPORT. Existing series merge only when the case is very strongly tied to each,
        so one borderline link cannot chain two unrelated series together.
        """
        support: dict[str, float] = {}
        best: dict[str, float] = {}
        loose: list[str] = []
        for link in links:
            if not self._counts(link):
                continue
            other = link.a if link.b == case.key else link.b
            series_id = self.state.series_of.get(other)
            if series_id is None:
                if link.strong:
                    loose.append(other)
                continue
            support[series_id] = 1 - (1 - support.get(series_id, 0.0)) * (1 - link.score)
            best[series_id] = max(best.get(series_id, 0.0), link.score)
        qualified = {sid: value for sid, value in support.items() if best[sid] >= STRONG or value >= SERIES_SUPPORT}
        if qualified:
            ranked = sorted(qualified, key=lambda sid: (-qualified[sid], self._first_seen(sid)))
            very_strong = [sid for sid in ranked if qualified[sid] >= MERGE_SUPPORT]
            target = min(very_strong, key=self._first_seen) if len(very_strong) > 1 else ranked[0]
            for series_id in very_strong:
                if series_id != target:
                    self._merge(series_id, into=target)
        elif loose:
            target = "S-" + hashlib.sha1(f"{case.key}|{','.join(sorted(loose))}".encode()).hexdigest()[:12]
            self.state.series[target] = {"series_id": target, "members": [], "links": [], "alert_level": 0,
                                         "alert_forces": 0, "alert_regions": 0, "version": 0}
        else:
            return None
        record = dict(self.state.series[target])
        members = list(record["members"])
        for key in [*loose, case.key]:
            if key not in members and self.state.series_of.get(key) in (None, target):
                members.append(key)
                self.state.series_of[key] = target
        record["members"] = members
        self.state.series[target] = record
        return target

    def _first_seen(self, series_id: str) -> str:
        record = self.state.series.get(series_id) or {}
        return str(record.get("first_seen") or "9999")

    def _merge(self, source: str, into: str) -> None:
        absorbed = dict(self.state.series[source])
        target = dict(self.state.series[into])
        target["members"] = list(dict.fromkeys([*target["members"], *absorbed["members"]]))
        target["links"] = [*target["links"], *absorbed["links"]][-self.config.max_series_links:]
        for key in absorbed["members"]:
            self.state.series_of[key] = into
        self.state.series[into] = target
        del self.state.series[source]

    def _refresh(self, series_id: str, new_links: list[Link] | None = None) -> Series | None:
        record = dict(self.state.series.get(series_id) or {})
        if not record:
            return None
        if new_links:
            record["links"] = [*record["links"], *(link.model_dump(mode="json") for link in new_links)][
                -self.config.max_series_links:]
        cases = [case for case in (self.case(key) for key in record["members"]) if case is not None]
        cases.sort(key=lambda case: case.start)
        record["members"] = [case.key for case in cases]
        if not cases:
            del self.state.series[series_id]
            return None
        record["first_seen"] = cases[0].start.isoformat()
        record["version"] = int(record.get("version", 0)) + 1
        self.state.series[series_id] = record
        return _summary(series_id, record, cases)

    def _evaluate_alert(self, summary: Series) -> Alert | None:
        """Raise or escalate the series' alert; ``summary`` is the series just refreshed (members in time order)."""
        series_id = summary.series_id
        record = dict(self.state.series[series_id])
        cases = [case for case in (self.case(key) for key in summary.members) if case is not None]
        latest = cases[-1].start
        recent = [case for case in cases if case.start >= latest - self.config.window]
        forces = sorted({case.force_id for case in recent})
        regions = sorted({case.region_id for case in recent})
        if len(forces) < self.config.min_forces or len(regions) < self.config.min_regions:
            return None
        level = int(record.get("alert_level", 0))
        if level and len(forces) <= record.get("alert_forces", 0) and len(regions) <= record.get("alert_regions", 0):
            return None  # already alerted at this reach: escalate only when it spreads
        level += 1
        record.update(alert_level=level, alert_forces=len(forces), alert_regions=len(regions))
        self.state.series[series_id] = record
        return self._alert(summary, level, "raised" if level == 1 else "escalated")

    def _alert(self, summary: Series, level: int, status: str) -> Alert:
        """The series' alert at ``level``, with its evidence package as the series now stands."""
        series_id = summary.series_id
        record = self.state.series[series_id]
        cases = [case for case in (self.case(key) for key in summary.members) if case is not None]
        latest = cases[-1].start
        recent = [case for case in cases if case.start >= latest - self.config.window]
        lead, reason = _lead_force(recent)
        links = [Link.model_validate(link) for link in record["links"]]
        package = build_package(summary, cases, links, lead, reason, level)
        return Alert(
            alert_id=f"A-{series_id[2:]}", series_id=series_id, level=level, status=status,
            forces=sorted({case.force_id for case in recent}), regions=sorted({case.region_id for case in recent}),
            lead_force=lead, lead_reason=reason, incident_count=len(cases), referable_count=len(summary.referable),
            total_value_pence=summary.total_value_pence, at=latest, evidence=package,
            evidence_markdown=render_markdown(package),
        )

    def sweep(self, now: datetime | None = None) -> CorrelationOutcome:
        """Forget what fell out of the window (event time); returns the series that changed."""
        if not self._index_ready:
            self.rebuild_index()
        now = now or self._watermark() or datetime.now(UTC)
        cutoff = now - self.config.window
        outcome = CorrelationOutcome()
        touched: set[str] = set()
        while self._by_start and self._by_start[0][0] < cutoff:
            start, key = heapq.heappop(self._by_start)
            gone_case = self.case(key)
            if gone_case is None or gone_case.start != start:
                continue  # swept already, or a revision moved it: the entry for its new start decides
            series_id = self._forget(gone_case)
            if series_id is not None:
                touched.add(series_id)
        for series_id in touched:
            refreshed = self._refresh(series_id)
            if refreshed is not None:
                outcome.series.append(refreshed)
        return outcome

    def _forget(self, gone: Case) -> str | None:
        """Drop a case from the window, the index and its series' members; returns that series' id."""
        key, postings = gone.key, self.state.postings
        del self.state.cases[key]
        self._cache.pop(key, None)
        for feature in prepare(gone).features:
            self._feature_counts[feature] -= 1
            if self._feature_counts[feature] <= 0:
                del self._feature_counts[feature]
        for posting_key in blocking_keys(gone):
            posting = postings.get(posting_key)
            if posting is not None and key in posting:
                posting.remove(key)
                if not posting:
                    del postings[posting_key]
        series_id = self.state.series_of.get(key)
        if series_id is not None:
            del self.state.series_of[key]
        return series_id

    def erase(self, key: str) -> CorrelationOutcome:
        """Forget one incident as if it had never been seen (``crimelink erase``): out of the window and the index,
        out of its series with every link that names it, and, when the series had an alert, the alert again with an
        evidence package without it (status ``revised``). The series is not split where the incident was its only
        bridge: what remains stays one series."""
        if not self._index_ready:
            self.rebuild_index()
        outcome = CorrelationOutcome()
        gone = self.case(key)
        series_id = self._forget(gone) if gone is not None else self.state.series_of.get(key)
        if series_id is None or series_id not in self.state.series:
            return outcome
        record = dict(self.state.series[series_id])
        record["members"] = [member for member in record["members"] if member != key]
        record["links"] = [link for link in record["links"] if key not in (link["a"], link["b"])]
        self.state.series[series_id] = record
        refreshed = self._refresh(series_id)
        if refreshed is None:
            return outcome
        outcome.series.append(refreshed)
        if int(record.get("alert_level", 0)):
            outcome.alerts.append(self._alert(refreshed, int(record["alert_level"]), "revised"))
        return outcome


def _event_time(case: Case) -> datetime:
    """How far ``case`` may move the window's event time: its start, but never past when crimelink received it.

    Why: event time is the latest of these, and one record dated in the future (a wrong year, a wrong time zone, a
    hostile feed) would otherwise sweep every held case out of the window at once, and keep every later one out. The
    receipt time is crimelink's own clock, not the record's claim; old records (a backfill) still count by their start.
    """
    received = case.received_at
    return case.start if received is None or case.start <= received else received


def _lead_force(cases: list[Case]) -> tuple[str, str]:
    referable = Counter(case.force_id for case in cases if case.eligibility == "referable")
    everything = Counter(case.force_id for case in cases)
    first = {}
    for case in cases:
        first.setdefault(case.force_id, case.start)
    lead = min(everything, key=lambda force: (-referable[force], -everything[force], first[force]))
    reason = (f"{referable[lead]} of the series' {sum(referable.values())} referable incidents "
              f"({everything[lead]} of {len(cases)} in all) are in its area, the most of any force; "
              f"first seen there {first[lead]:%Y-%m-%d}")
    return lead, reason


def _summary(series_id: str, record: dict[str, Any], cases: list[Case]) -> Series:
    return Series(
        series_id=series_id, members=[case.key for case in cases], first_seen=cases[0].start,
        last_seen=cases[-1].start, forces=sorted({c.force_id for c in cases}), regions=sorted({c.region_id for c in cases}),
        tactics=sorted({t for c in cases for t in c.tactics}), goods=sorted({g for c in cases for g in c.goods}),
        vehicles=sorted({v.registration for c in cases for v in c.vehicles if v.valid and v.registration}),
        total_value_pence=sum(c.value_pence for c in cases),
        referable=[c.key for c in cases if c.eligibility == "referable"],
        pending=[c.key for c in cases if c.eligibility != "referable"], version=int(record.get("version", 0)),
    )
