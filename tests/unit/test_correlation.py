"""Linking, series and alerts on plain dicts; the Faust layer only adds transport and changelogs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from crimelink.linkage import Correlator, CorrelatorConfig, blocking_keys, score_link
from crimelink.linkage.correlator import CorrelatorState
from crimelink.linkage.evidence import render_html
from crimelink.schemas.correlation import Case, CaseDescription, CaseVehicle
from crimelink.schemas.reference import forces
from tests.conftest import CountingReads

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
PLACES = {  # a store location per force (approximate town centres)
    "kent": (51.28, 1.08), "essex": (51.74, 0.47), "sussex": (50.83, -0.14), "durham": (54.78, -1.57),
    "cumbria": (54.89, -2.93), "dorset": (50.72, -1.88),
}
TEAM = [CaseDescription(gender="male", build="slim", complexion="pale", eye_colour="blue", ethnicity="IC1",
                        features=["dagger tattoo on left hand"])]


def case(key: str, force: str, hours: float, *, tactics: tuple[str, ...] = ("DIST-STAFF", "TEAM-LOOKOUT"),
         vehicle: str | None = None, team: list[CaseDescription] | None = None, eligibility: str = "referable") -> Case:
    lat, lon = PLACES[force]
    return Case(key=key, retailer="northway", incident_id=key, revision=1, store_name=f"store {key}", force_id=force,
                region_id=forces()[force].region_id, latitude=lat, longitude=lon, start=T0 + timedelta(hours=hours),
                tactics=sorted(tactics), goods=["RAZORS"], value_pence=5000, offender_count=len(team or []) or 1,
                descriptions=team or [], vehicles=[CaseVehicle(registration=vehicle, valid=True)] if vehicle else [],
                crime_number="X/1234567/25" if eligibility == "referable" else None, eligibility=eligibility)


def never_common(_: str) -> bool:
    return False


def test_same_vehicle_is_a_strong_explained_link() -> None:
    score, evidence = score_link(case("a", "kent", 0, vehicle="KX19TRV"), case("b", "essex", 20, vehicle="KX19TRV"),
                                 never_common)
    assert score >= 0.85
    assert any(e.feature == "vehicle" and "KX19TRV" in e.detail for e in evidence)


def test_shared_modus_operandi_alone_is_not_strong() -> None:
    score, _ = score_link(case("a", "kent", 0), case("b", "essex", 20), never_common)
    assert 0 < score < 0.85


def test_impossible_journeys_veto_the_link() -> None:
    score, evidence = score_link(case("a", "kent", 0, vehicle="KX19TRV"), case("b", "durham", 1, vehicle="KX19TRV"),
                                 never_common)
    assert score == 0 and evidence[0].feature == "travel"


def test_common_features_do_not_count_as_distinguishing() -> None:
    hoodie = [CaseDescription(gender="male", build="slim", features=["grey hoodie"])]
    left, right = case("a", "kent", 0, team=hoodie), case("b", "essex", 20, team=hoodie)
    rare_score, _ = score_link(left, right, never_common)
    common_score, _ = score_link(left, right, lambda feature: feature == "grey hoodie")
    assert rare_score > common_score


def test_blocking_keys() -> None:
    keys = blocking_keys(case("a", "kent", 0, vehicle="KX19TRV", team=TEAM))
    assert "veh:KX19TRV" in keys and "feat:dagger tattoo on left hand" in keys
    # Four of the five descriptors, each with the tactic pair: a one-descriptor difference still meets.
    assert {key for key in keys if key.startswith("desc:")} == {
        f"desc:{descriptors}|DIST-STAFF,TEAM-LOOKOUT" for descriptors in
        ["*|slim|pale|blue|IC1", "male|*|pale|blue|IC1", "male|slim|*|blue|IC1", "male|slim|pale|*|IC1",
         "male|slim|pale|blue|*"]}
    assert not any(key.startswith("mo:") for key in keys)  # two tactics alone can never make a lead
    signature = blocking_keys(case("b", "kent", 0, tactics=("DIST-STAFF", "TEAM-LOOKOUT", "CONC-FOIL")))
    assert signature == ["mo:CONC-FOIL,DIST-STAFF,TEAM-LOOKOUT|RAZORS"]


def test_every_pair_that_scores_a_lead_shares_a_blocking_key() -> None:
    """Blocking must not miss what scoring would keep: brute force over varied pairs agrees with the keys."""
    descriptions = [CaseDescription(gender="male", build="slim", complexion="pale", eye_colour="blue", ethnicity="IC1"),
                    CaseDescription(gender="male", build="slim", complexion="pale", eye_colour=None, ethnicity="IC1"),
                    CaseDescription(gender="male", build="large", complexion="pale", eye_colour="blue", ethnicity="IC1"),
                    CaseDescription(gender="female", build="slim", features=["rose tattoo on neck"]),
                    CaseDescription(gender="female", build="slim", complexion="dark", features=["rose tattoo on neck"])]
    signatures = [("DIST-STAFF", "TEAM-LOOKOUT"), ("DIST-STAFF", "TEAM-LOOKOUT", "CONC-FOIL"),
                  ("DIST-STAFF", "CONC-FOIL", "TEAM-LOOKOUT", "EXIT-FIRE"), ("GRAB-RUN",)]
    variants = [case(f"v{n}", "kent", n, tactics=tactics, team=[description])
                for n, (tactics, description) in enumerate((t, d) for t in signatures for d in descriptions)]
    leads = 0
    for first in variants:
        for second in variants:
            if first.key < second.key and score_link(first, second, never_common)[0] >= 0.6:
                leads += 1
                assert set(blocking_keys(first)) & set(blocking_keys(second)), (first.key, second.key)
    assert leads > 20


def test_a_group_across_regions_alerts_once_then_escalates() -> None:
    correlator = Correlator(CorrelatorState.in_memory())
    outcomes = [correlator.on_incident(c) for c in [
        case("g1", "kent", 0, vehicle="KX19TRV"), case("g2", "kent", 10, vehicle="KX19TRV"),
        case("g3", "essex", 24, vehicle="KX19TRV", eligibility="pending"),
        case("g4", "sussex", 40, vehicle="KX19TRV"),  # third force, second region: raise
        case("g5", "sussex", 50, vehicle="KX19TRV"),  # same reach: nothing new
        case("g6", "durham", 80, vehicle="KX19TRV"),  # third region: escalate
    ]]
    alerts = [alert for outcome in outcomes for alert in outcome.alerts]
    assert [(a.level, a.status, len(a.forces), len(a.regions)) for a in alerts] == [
        (1, "raised", 3, 2), (2, "escalated", 4, 3)]
    assert len({a.alert_id for a in alerts}) == 1
    assert alerts[0].lead_force == "kent"
    package = alerts[1].evidence
    assert [e["key"] for e in package["awaiting_crime_number"]] == ["g3"]
    assert len(package["evidence"]) == 5
    assert "Awaiting a crime number" in alerts[1].evidence_markdown and "<table>" in render_html(package)


def test_the_evidence_package_says_where_each_crime_number_came_from() -> None:
    via = "crimelink.retailer.northway.crime-number-updates/0/4 from kafka:retailer:northway"
    reported = case("s1", "kent", 0, vehicle="KX19TRV").model_copy(update={"crime_number_source": "retailer-report"})
    updated = case("s2", "essex", 20, vehicle="KX19TRV").model_copy(
        update={"crime_number_source": "retailer-update", "crime_number_via": via})
    entered = "crimelink's web server from force user sussex-liaison"
    third = case("s3", "sussex", 40, vehicle="KX19TRV").model_copy(
        update={"crime_number_source": "force", "crime_number_via": entered})
    correlator = Correlator(CorrelatorState.in_memory())
    [alert] = [a for c in (reported, updated, third) for a in correlator.on_incident(c).alerts]
    entries = {entry["key"]: entry for entry in alert.evidence["evidence"]}
    assert (entries["s2"]["crime_number_source"], entries["s2"]["crime_number_via"]) == ("retailer-update", via)
    lines = {key: next(line for line in alert.evidence_markdown.splitlines() if f"/{key} " in line) for key in entries}
    assert "X/1234567/25 (sent later by the retailer, " in lines["s2"] and "kafka:retailer:northway" in lines["s2"]
    assert "X/1234567/25 (in the retailer's report)" in lines["s1"]
    assert f"X/1234567/25 (entered by the force, {entered})" in lines["s3"]
    assert "kafka:retailer:northway" in render_html(alert.evidence)


def test_one_force_never_alerts_however_prolific() -> None:
    correlator = Correlator(CorrelatorState.in_memory())
    alerts = [a for n in range(30) for a in correlator.on_incident(case(f"l{n}", "durham", n * 7, vehicle="DU15LOC")).alerts]
    assert alerts == []
    (series_id,) = {correlator.state.series_of[f"l{n}"] for n in range(30)}
    assert len(correlator.series(series_id)["members"]) == 30  # type: ignore[index]


def test_weak_links_do_not_make_series() -> None:
    correlator = Correlator(CorrelatorState.in_memory())
    signature = ("DIST-STAFF", "TEAM-LOOKOUT", "CONC-FOIL")
    outcomes = [correlator.on_incident(case(f"w{n}", force, n * 20, tactics=signature))
                for n, force in enumerate(["kent", "essex", "sussex", "durham", "dorset"])]
    assert any(outcome.links for outcome in outcomes)  # the shared MO is kept as a lead...
    assert all(not outcome.series and not outcome.alerts for outcome in outcomes)  # ...but joins nothing
    assert dict(correlator.state.series_of) == {}


def test_a_borderline_link_does_not_chain_two_series() -> None:
    correlator = Correlator(CorrelatorState.in_memory())
    for n in range(3):
        correlator.on_incident(case(f"a{n}", "kent", n * 5, vehicle="AA11AAA"))
        correlator.on_incident(case(f"b{n}", "durham", n * 5, vehicle="BB22BBB"))
    first, second = correlator.state.series_of["a0"], correlator.state.series_of["b0"]
    assert first != second
    # Shares a vehicle with one series only (strong) and the MO with the other (weak): joins one, merges nothing.
    correlator.on_incident(case("x", "essex", 40, vehicle="AA11AAA"))
    assert correlator.state.series_of["x"] == first
    assert correlator.state.series_of["b0"] == second


def test_the_window_bounds_memory() -> None:
    correlator = Correlator(CorrelatorState.in_memory(), CorrelatorConfig(window=timedelta(days=2)))
    for n in range(40):
        correlator.on_incident(case(f"c{n}", "kent", n * 6, vehicle=f"KX{n:02d}AAA"))
    correlator.sweep()
    kept = [key for key in correlator.state.cases if not key.startswith("__")]
    assert len(kept) == 9  # the last 48 hours, every 6 hours
    assert all(int(key[1:]) >= 31 for key in kept)
    assert sum(len(p) for p in correlator.state.postings.values()) == len(kept)  # each under its vehicle


def test_a_sweep_forgets_what_left_the_window_without_reading_every_case() -> None:
    cases = CountingReads()
    correlator = Correlator(CorrelatorState(cases, {}, {}, {}), CorrelatorConfig(window=timedelta(days=2)))
    for n in range(20):
        correlator.on_incident(case(f"c{n}", "kent", n * 6, vehicle=f"KX{n:02d}AAA"))
    reads_after_start = cases.whole_reads
    correlator.sweep()
    correlator.sweep(T0 + timedelta(hours=19 * 6 + 24))
    assert sorted(cases, key=lambda key: int(key[1:])) == [f"c{n}" for n in range(15, 20)]
    assert cases.whole_reads == reads_after_start + 1  # the one read is the assertion's own
    assert sum(len(posting) for posting in correlator.state.postings.values()) == 5


def test_a_revision_that_moves_an_incident_in_time_is_swept_by_its_new_start() -> None:
    correlator = Correlator(CorrelatorState.in_memory(), CorrelatorConfig(window=timedelta(days=2)))
    correlator.on_incident(case("early", "kent", 0, vehicle="MV01AAA"))
    correlator.on_incident(case("late", "kent", 40, vehicle="MV02AAA"))
    correlator.on_incident(case("early", "kent", 30, vehicle="MV01AAA").model_copy(update={"revision": 2}))
    correlator.on_incident(case("late", "kent", 1, vehicle="MV02AAA").model_copy(update={"revision": 2}))
    correlator.sweep(T0 + timedelta(hours=60))  # the window starts at hour 12
    assert sorted(correlator.state.cases) == ["early"]


def test_cases_another_worker_wrote_are_indexed_once_recovered() -> None:
    shared = CorrelatorState.in_memory()
    here = Correlator(CorrelatorState(shared.cases, {}, shared.series, shared.series_of))
    here.on_incident(case("h1", "kent", 0, vehicle="HH11AAA"))  # index built
    Correlator(CorrelatorState(shared.cases, {}, shared.series, shared.series_of)).on_incident(
        case("w1", "essex", 5, vehicle="WW11AAA"))  # the partition's last owner, before a rebalance
    here.recovered()  # the cases table came back from its changelog
    outcome = here.on_incident(case("w2", "sussex", 10, vehicle="WW11AAA"))
    assert [link.a for link in outcome.links if link.strong] == ["w1"]


def test_candidates_per_key_are_capped() -> None:
    correlator = Correlator(CorrelatorState.in_memory(), CorrelatorConfig(max_posting=10))
    for n in range(50):
        correlator.on_incident(case(f"m{n}", "kent", n * 0.5, tactics=("DIST-STAFF", "TEAM-LOOKOUT", "CONC-FOIL")))
    assert len(correlator.state.postings["mo:CONC-FOIL,DIST-STAFF,TEAM-LOOKOUT|RAZORS"]) == 10


def test_the_index_is_rebuilt_from_the_cases_after_a_restart() -> None:
    state = CorrelatorState.in_memory()
    first = Correlator(state)
    first.on_incident(case("r1", "kent", 0, vehicle="RS19RST"))
    restarted_state = CorrelatorState(cases=state.cases, postings={}, series=state.series, series_of=state.series_of)
    restarted = Correlator(restarted_state)  # the tables came back from their changelogs; the index did not
    outcome = restarted.on_incident(case("r2", "essex", 20, vehicle="RS19RST"))
    assert [link.a for link in outcome.links if link.strong] == ["r1"]
    assert restarted_state.postings["veh:RS19RST"] == ["r1", "r2"]


def test_a_feature_worn_by_many_is_common_however_short_its_posting_list() -> None:
    config = CorrelatorConfig(max_posting=10, common_feature_floor=20)
    correlator = Correlator(CorrelatorState.in_memory(), config)
    hoodie = [CaseDescription(gender="male", build="slim", features=["grey hoodie"])]
    forces_in_turn = ["kent", "essex", "sussex", "durham", "cumbria", "dorset"]
    for n in range(30):
        correlator.on_incident(case(f"h{n}", forces_in_turn[n % 6], n * 30, tactics=("GRAB-RUN",), team=hoodie))
    assert len(correlator.state.postings["feat:grey hoodie"]) == 10  # the list is capped...
    outcome = correlator.on_incident(case("h-next", "kent", 30 * 30, tactics=("GRAB-RUN",), team=hoodie))
    assert outcome.links == []  # ...but thirty wearers make it common: a hoodie links nobody


def test_look_alikes_are_compared_only_with_the_most_recent() -> None:
    correlator = Correlator(CorrelatorState.in_memory(), CorrelatorConfig(max_description_candidates=5))
    look_alike = [CaseDescription(gender="male", build="slim", complexion="pale", eye_colour="blue", ethnicity="IC1")]
    for n in range(40):
        correlator.on_incident(case(f"d{n}", "kent", n, team=look_alike))
    outcome = correlator.on_incident(case("d-next", "essex", 60, team=look_alike))
    assert sorted(link.a for link in outcome.links) == [f"d{n}" for n in range(35, 40)]


def test_cases_held_as_dicts_by_an_earlier_version_still_load() -> None:
    state = CorrelatorState.in_memory()
    earlier = case("old", "kent", 0, vehicle="OL19DVR")
    state.cases[earlier.key] = earlier.model_dump(mode="json")
    correlator = Correlator(state)
    outcome = correlator.on_incident(case("new", "essex", 20, vehicle="OL19DVR"))
    assert [(link.a, link.b) for link in outcome.links] == [("old", "new")]
    assert isinstance(state.cases["new"], str)


def test_event_time_comes_back_from_the_held_cases_after_a_restart() -> None:
    state = CorrelatorState.in_memory()
    config = CorrelatorConfig(window=timedelta(days=1))
    Correlator(state, config).on_incident(case("new", "kent", 100, vehicle="AB12CDE"))
    restarted = Correlator(state, config)  # same tables, nothing in memory: as after a worker restart
    assert restarted.on_incident(case("late", "essex", 100 - 48, vehicle="AB12CDE")).links == []
    assert restarted.case("late") is None  # older than the window by the recovered event time: not held
    assert restarted.on_incident(case("recent", "essex", 100 - 2, vehicle="AB12CDE")).links  # inside it: linked
    assert "__watermark__" not in state.series  # event time is derived, not written per incident


def test_one_future_dated_record_neither_sweeps_the_window_nor_stops_linking() -> None:
    """A case dated in the year 9999 (a wrong year, a hostile feed) once moved event time there: every held case was
    swept at once and no later incident linked again. Event time is now bounded by when each case was received."""
    correlator = Correlator(CorrelatorState.in_memory(), CorrelatorConfig(window=timedelta(days=2)))
    received = T0 + timedelta(hours=30)
    for n, force in enumerate(["kent", "kent", "essex"]):
        correlator.on_incident(case(f"g{n}", force, n * 10, vehicle="KX19TRV").model_copy(update={"received_at": received}))
    rogue = case("rogue", "durham", 0, vehicle="ZZ99ZZZ").model_copy(
        update={"start": datetime(9999, 1, 1, tzinfo=UTC), "received_at": received})
    correlator.on_incident(rogue)
    correlator.sweep()
    assert {"g0", "g1", "g2", "rogue"} <= set(correlator.state.cases)  # nothing swept by the rogue's date
    later = correlator.on_incident(case("g3", "sussex", 32, vehicle="KX19TRV").model_copy(
        update={"received_at": received + timedelta(hours=2)}))
    assert later.links and [alert.level for alert in later.alerts] == [1]  # linking goes on, and the team alerts
    restarted = Correlator(correlator.state, correlator.config)  # after a restart, event time is derived again
    assert restarted.on_incident(case("g4", "dorset", 36, vehicle="KX19TRV").model_copy(
        update={"received_at": received + timedelta(hours=6)})).links


def test_old_records_still_count_by_their_own_time() -> None:
    """A backfill (records received long after they happened) moves event time by their start, as before."""
    correlator = Correlator(CorrelatorState.in_memory(), CorrelatorConfig(window=timedelta(days=1)))
    long_after = T0 + timedelta(days=400)
    correlator.on_incident(case("old", "kent", 0, vehicle="AB12CDE").model_copy(update={"received_at": long_after}))
    correlator.on_incident(case("old2", "kent", 100, vehicle="AB12CDE").model_copy(update={"received_at": long_after}))
    correlator.sweep()
    assert set(correlator.state.cases) == {"old2"}  # event time is the latest start (100 h): "old" left the window


def test_an_erased_incident_leaves_the_window_its_series_and_its_alert() -> None:
    correlator = Correlator(CorrelatorState.in_memory())
    for c in [case("e1", "kent", 0, vehicle="KX19TRV"), case("e2", "kent", 10, vehicle="KX19TRV"),
              case("e3", "essex", 24, vehicle="KX19TRV"), case("e4", "sussex", 40, vehicle="KX19TRV")]:
        correlator.on_incident(c)
    outcome = correlator.erase("e2")
    [series] = outcome.series
    assert series.members == ["e1", "e3", "e4"]
    [alert] = outcome.alerts
    assert (alert.status, alert.level, alert.incident_count) == ("revised", 1, 3)
    assert "e2" not in json.dumps(alert.evidence) and "e2" not in alert.evidence_markdown
    record = correlator.series(series.series_id)
    assert record is not None and all("e2" not in (link["a"], link["b"]) for link in record["links"])
    assert correlator.case("e2") is None and "e2" not in correlator.state.series_of
    assert all("e2" not in posting for posting in correlator.state.postings.values())
    assert correlator.erase("e2").series == []  # erasing again changes nothing
