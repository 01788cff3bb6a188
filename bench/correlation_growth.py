"""Correlation cost per incident as the window fills: 10k, 100k (and, with --sizes ...,1000000, 1M) incidents held.

    .venv/bin/python -m bench.correlation_growth [--sizes 10000,100000] [--probe 2000] [--rounds 5] [--json out.json]

For each size a correlator's state is filled with that many background incidents (indexed
directly, without linking them, which would take far longer than the measurement), and memory
per incident held is taken from tracemalloc. Then the cost of linking the next ``probe``
incidents is timed in ``rounds`` slices, the sizes taking turns slice by slice, so a noisy
neighbour or a pause on this shared machine lands on every size alike instead of on whichever
size was being timed then. A throwaway correlator is exercised first, so no size pays for
first-use costs (imports, caches, pydantic's lazy set-up). The figure is the median slice, in
wall time and in this process's CPU time (the CPU time leaves out time the machine gave to other
processes). The target: cost per incident within 1.5x from 10k to 1M held. Last, each correlator's
event time moves past the oldest hundredth of its window and the sweep that forgets them is timed (the correlator
sweeps after every batch of cases, so this is the work one move of event time costs).

The background is built from 5,000 simulated incidents; beyond that, each held incident takes its
store and time from one, its descriptions from another and its tactics and goods from a third, and
its vehicles get a registration of their own, so a million held incidents are not two hundred
copies of the same five thousand (copies would link to each other and measure that instead).
The worker's garbage-collector settings are applied, as in the worker. All sizes are held at
once: 1M takes about 4.6 GB.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.linkage import Correlator
from crimelink.linkage.correlator import CorrelatorState
from crimelink.referral.gate import apply_gate
from crimelink.schemas.correlation import Case
from crimelink.schemas.incident import Incident
from crimelink.settings import get_settings
from crimelink.simulation.feed import Simulator
from crimelink.streams.engine.garbage import tune_garbage_collector


def _cases(count: int, seed: int) -> list[Case]:
    registry = StoreRegistry.load()
    normaliser = Normaliser(registry)
    now = datetime(2026, 1, 28, tzinfo=UTC)
    simulator = Simulator(registry, seed=seed, fault_rate=0.0, now=now)
    cases = []
    for index, record in enumerate(simulator.records(count)):
        result = normaliser.normalise(RawRecord(record.feed_format, record.value, "bench", 0, index, now))
        assert isinstance(result, Incident)
        cases.append(Case.from_incident(apply_gate(result)).model_copy(update={"key": f"{seed}:{index}"}))
    return cases


def _background(template: list[Case], index: int) -> Case:
    count = len(template)
    if index < count:
        return template[index].model_copy(update={"key": f"held:{index}"})
    base, people, method = template[index % count], template[index * 7919 % count], template[index * 104_729 % count]
    vehicles = [vehicle.model_copy(update={"registration": f"{vehicle.registration}{index // count}"})
                for vehicle in base.vehicles if vehicle.registration]
    mixed = base.model_copy(update={"key": f"held:{index}", "descriptions": people.descriptions, "vehicles": vehicles,
                                    "tactics": method.tactics, "goods": method.goods})
    mixed._profile = None  # noqa: SLF001 - scoring's cached view belongs to the base's own features
    return mixed


def fill(size: int, template: list[Case]) -> tuple[Correlator, int]:
    """A correlator holding ``size`` background incidents, and the bytes held per incident."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    correlator = Correlator(CorrelatorState.in_memory())
    correlator.rebuild_index()
    for index in range(size):
        correlator.hold(_background(template, index))
    held_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return correlator, round(held_bytes / max(size, 1))


def measure(sizes: list[int], probe: int, template: list[Case], rounds: int = 5) -> list[dict[str, Any]]:
    """One row per size: median µs per probe incident (wall and CPU), each slice's figures, and bytes held."""
    warm, _ = fill(min(len(template), 5000), template)
    for case in _cases(min(probe, 500), seed=7):
        warm.on_incident(case)
    del warm
    filled = [fill(size, template) for size in sizes]
    probes = _cases(probe, seed=99)
    step = -(-probe // rounds)  # rounded up, so no probe is left out
    wall: list[list[float]] = [[] for _ in sizes]
    cpu: list[list[float]] = [[] for _ in sizes]
    for first in range(0, probe, step):
        chunk = probes[first:first + step]
        for slot, (correlator, _) in enumerate(filled):
            wall_started, cpu_started = time.perf_counter(), time.process_time()
            for case in chunk:
                correlator.on_incident(case)
            cpu[slot].append((time.process_time() - cpu_started) / len(chunk) * 1e6)
            wall[slot].append((time.perf_counter() - wall_started) / len(chunk) * 1e6)
    sweeps = [_sweep_oldest_hundredth(correlator) for correlator, _ in filled]
    return [{"held": size, "us_per_incident": round(statistics.median(wall[slot]), 1),
             "cpu_us_per_incident": round(statistics.median(cpu[slot]), 1),
             "us_per_round": [round(value, 1) for value in wall[slot]],
             "cpu_us_per_round": [round(value, 1) for value in cpu[slot]],
             "bytes_per_incident_held": filled[slot][1],
             "swept": sweeps[slot][0], "sweep_ms": sweeps[slot][1]}
            for slot, size in enumerate(sizes)]


def _sweep_oldest_hundredth(correlator: Correlator) -> tuple[int, float]:
    """Cases forgotten, and milliseconds, when event time moves on past the oldest hundredth of the window."""
    starts = sorted(case.start for key in correlator.state.cases if (case := correlator.case(key)) is not None)
    held = len(correlator.state.cases)
    started = time.perf_counter()
    correlator.sweep(starts[len(starts) // 100] + correlator.config.window)
    return held - len(correlator.state.cases), round((time.perf_counter() - started) * 1e3, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--probe", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5,
                        help="time the probe in this many slices and report the median (one pause or noisy neighbour "
                             "then moves one slice, not the figure)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    tune_garbage_collector(get_settings().worker.gc_young_threshold)
    template = _cases(5000, seed=1)
    rows = measure([int(size) for size in args.sizes.split(",")], args.probe, template, args.rounds)
    print(f"{'held':>10} {'us/incident':>12} {'rounds min-max':>16} {'cpu us/incident':>16} {'bytes/incident held':>20} "
          f"{'sweep (cases, ms)':>18}")
    for row in rows:
        spread = f"{min(row['us_per_round'])}-{max(row['us_per_round'])}"
        sweep = f"{row['swept']}, {row['sweep_ms']}"
        print(f"{row['held']:>10} {row['us_per_incident']:>12} {spread:>16} {row['cpu_us_per_incident']:>16} "
              f"{row['bytes_per_incident_held']:>20} {sweep:>18}")
    growth = rows[-1]["us_per_incident"] / rows[0]["us_per_incident"]
    cpu_growth = rows[-1]["cpu_us_per_incident"] / rows[0]["cpu_us_per_incident"]
    print(f"cost growth {rows[0]['held']} -> {rows[-1]['held']} held: {growth:.2f}x wall, {cpu_growth:.2f}x CPU "
          "(target <= 1.5x)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "growth": round(growth, 3), "cpu_growth": round(cpu_growth, 3)},
                                         indent=2))


if __name__ == "__main__":
    main()
