"""Correlation quality: precision and recall of multi-region alerts against planted ground truth.

    .venv/bin/python -m bench.correlation_quality [--background 10000] [--seed 1] [--json out.json]

Runs the real normaliser, gate and correlator (no Kafka: this measures the decisions, not the
transport) over an OrcScenario and prints precision, recall, false alerts per 10,000 background
incidents, how many incidents in a group's second region it took to raise the alert, and the
correlator's cost per incident.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.linkage import Correlator, CorrelatorConfig
from crimelink.linkage.correlator import CorrelatorState
from crimelink.referral.gate import apply_gate
from crimelink.schemas.correlation import Case
from crimelink.schemas.incident import Incident
from crimelink.simulation.scenarios import OrcScenario


def evaluate(scenario: OrcScenario, config: CorrelatorConfig | None = None, sweep_every: int = 2000) -> dict[str, Any]:
    registry = StoreRegistry.load()
    normaliser = Normaliser(registry)
    correlator = Correlator(CorrelatorState.in_memory(), config)
    group_of = {key: group for group, truth in scenario.truth.items() for key in truth.incidents}
    first_alerts: dict[str, tuple[Any, int]] = {}
    escalations = 0
    seen: list[tuple[str, str]] = []  # (key, region) in arrival order
    elapsed = 0.0
    for index, record in enumerate(scenario.records):
        result = normaliser.normalise(RawRecord(record.feed_format, record.value, "bench", 0, index, record.at))
        assert isinstance(result, Incident), result
        case = Case.from_incident(apply_gate(result, now=record.at))
        started = time.perf_counter()
        outcome = correlator.on_incident(case)
        if index and index % sweep_every == 0:
            correlator.sweep()
        elapsed += time.perf_counter() - started
        seen.append((case.key, record.region_id))
        for alert in outcome.alerts:
            if alert.series_id not in first_alerts:
                first_alerts[alert.series_id] = (alert, index)
            else:
                escalations += 1

    multi_region = {g for g, t in scenario.truth.items() if t.multi_region}
    detected: dict[str, int] = {}
    alerts_per_group: Counter[str] = Counter()
    false_alerts = []
    for series_id, (alert, index) in first_alerts.items():
        members = alert.evidence["timeline"]
        groups = Counter(group_of.get(entry["key"]) for entry in members)
        group, count = groups.most_common(1)[0]
        if group in multi_region and count * 2 >= len(members):
            detected.setdefault(group, index)
            alerts_per_group[group] += 1
        else:
            false_alerts.append({"series": series_id, "groups": dict(groups), "forces": alert.forces})
    delays = []
    for group, index in detected.items():
        regions_seen: list[str] = []
        in_second = 0
        for key, region in seen[: index + 1]:
            if group_of.get(key) != group:
                continue
            if region not in regions_seen:
                regions_seen.append(region)
            if len(regions_seen) >= 2 and region == regions_seen[1]:
                in_second += 1
        delays.append(in_second)
    true_alerts = len(first_alerts) - len(false_alerts)
    background = scenario.background_count
    return {
        "incidents": len(scenario.records),
        "background_incidents": background,
        "multi_region_groups": len(multi_region),
        "alerts": len(first_alerts),
        "escalations": escalations,
        "true_alerts": true_alerts,
        "false_alerts": len(false_alerts),
        "precision": round(true_alerts / len(first_alerts), 4) if first_alerts else 1.0,
        "recall": round(len(detected) / len(multi_region), 4) if multi_region else 1.0,
        "false_alerts_per_10k_background": round(len(false_alerts) / background * 10_000, 3) if background else 0.0,
        "second_region_incidents_to_alert_median": statistics.median(delays) if delays else None,
        "second_region_incidents_to_alert_max": max(delays) if delays else None,
        "missed_groups": sorted(multi_region - set(detected)),
        "groups_split_over_several_alerts": sorted(g for g, n in alerts_per_group.items() if n > 1),
        "false_alert_detail": false_alerts[:10],
        "correlator_us_per_incident": round(elapsed / len(scenario.records) * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--background", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--groups", type=int, default=8, help="travelling, steal-to-order and local groups of each kind")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    started = time.perf_counter()
    scenario = OrcScenario(StoreRegistry.load(), seed=args.seed, days=args.days, background=args.background,
                           travelling=args.groups, steal_to_order=args.groups, local=args.groups,
                           lookalikes=args.groups * 5)
    results = evaluate(scenario)
    results["seconds"] = round(time.perf_counter() - started, 1)
    for name, value in results.items():
        if name != "false_alert_detail":
            print(f"{name:42} {value}")
    for item in results["false_alert_detail"]:
        print("false alert:", item)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
