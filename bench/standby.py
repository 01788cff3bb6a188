"""Do Faust's standby replicas shorten a takeover? Measured with one intake worker lost while the gate holds state.

    .venv/bin/python -m bench.standby [--held 20000] [--standby 0,1] [--json bench/results/standby.json]

For each value of CRIMELINK_TABLE_STANDBY_REPLICAS, on a local broker with four partitions per topic: a worker with
its own intake worker and a second intake worker started by hand in its own working area (as on another machine),
both in one intake group; ``--held`` incidents without a crime number, so the gate holds each one, about half in each
intake worker's table. Then the second intake worker is SIGKILLed and 400 incidents are sent across every partition.
Printed: the time from the kill until all 400 are stored (the session timeout, 10 s here, the rebalance, rebuilding
the lost partitions' gate state, the records themselves); crime-number updates for 200 of the held incidents, which
release them only if the gate's state came through the takeover; how many are still held after; and each intake
worker's peak memory and CPU before the kill (what keeping standby copies costs).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench._local import bench_workdir, children_of, forget_topics, local_broker, start_worker, usage
from crimelink.cli.query_client import run_query
from crimelink.settings import Settings
from crimelink.streams.kafka_auth import Broker, login_environment, settings_of
from crimelink.streams.kafka_io import Publisher, declare_topics
from crimelink.streams.topics import TopicNames

_PROBE = 400
_RELEASED = 200
_SESSION_SECONDS = "10"


def _record(incident_id: str, crime_reference: str | None) -> bytes:
    """A national_grocer record that links to nothing (no vehicle, no description, no tactic)."""
    return json.dumps({
        "schema": "ng-incident/2", "retailer": "northway",
        "incident": {"id": incident_id, "revision": 1, "reported_at": "2025-03-01T10:22:00Z"},
        "store": {"id": "NW0005"}, "occurred": {"from": "2025-03-01T09:40:00+00:00"},
        "loss": {"lines": [{"category": "ALC", "description": "Whisky 70cl", "qty": 1, "unit_price_pence": 2500}]},
        "tactics": [], "offenders": {"count": 1, "descriptions": []}, "vehicles": [],
        "police": {"crime_reference": crime_reference}, "narrative": "One person left without paying for whisky.",
    }).encode()


def _publish(bootstrap: Broker, topic: str, prefix: str, count: int, crime_reference: str | None) -> None:
    with Publisher(bootstrap) as publisher:
        for number in range(count):
            incident_id = f"{prefix}-{number}"
            publisher.send(topic, _record(incident_id, crime_reference), key=incident_id.encode())


def _count(settings: Settings, sql: str) -> int:
    return int(run_query(sql, {}, settings).rows[0][0])


def _wait(settings: Settings, sql: str, wanted: int, timeout: float) -> float:
    started = time.monotonic()
    while _count(settings, sql) < wanted:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {wanted} from {sql}")
        time.sleep(0.25)
    return time.monotonic() - started


def _usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak resident MiB) of one live process."""
    cpu, peak_kib = usage(pid)
    return cpu, peak_kib // 1024


def run_once(bootstrap: Broker, workdir: Path, standby: int, held: int) -> dict[str, Any]:
    token = uuid.uuid4().hex[:6]
    app_id = f"standby-{token}"
    settings = Settings(home=workdir, kafka=settings_of(bootstrap, topic_prefix=f"s{token}.", topic_partitions=4))
    names = TopicNames(settings)
    extra = {"CRIMELINK_TOPIC_PARTITIONS": "4", "CRIMELINK_TABLE_STANDBY_REPLICAS": str(standby),
             "CRIMELINK_KAFKA_SESSION_TIMEOUT_SECONDS": _SESSION_SECONDS}
    with forget_topics(bootstrap, settings.kafka.topic_prefix, app_id):
        declare_topics(bootstrap, names.all(), 4, names.partitions, names.configs)
        worker, query = start_worker(settings, workdir / "worker", app_id, **extra)
        other_home = workdir / "other-machine"
        other_home.mkdir(mode=0o700)
        assert worker.process is not None
        env = {**os.environ, **login_environment(bootstrap), **extra, "CRIMELINK_HOME": str(other_home),
               "CRIMELINK_TOPIC_PREFIX": settings.kafka.topic_prefix, "CRIMELINK_APP_ID": app_id,
               "CRIMELINK_WORKER_ROLE": "intake", "CRIMELINK_INTAKE_INSTANCE": "other-machine"}
        with (other_home / "intake.log").open("ab") as log:
            other = subprocess.Popen([sys.executable, "-m", "crimelink.cli", "worker", "--loglevel", "info"], env=env,
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        try:
            raw = names.raw["national_grocer"]
            _publish(bootstrap, raw, "HELD", held, None)
            fill = _wait(query, "SELECT count() FROM incidents_latest WHERE eligibility = 'pending'", held, 900)
            time.sleep(3)  # standby copies catch up with the changelogs
            [survivor] = children_of(worker.process.pid)
            survivor_cpu, survivor_peak = _usage(survivor)
            other_cpu, other_peak = _usage(other.pid)
            os.killpg(other.pid, signal.SIGKILL)
            killed = time.monotonic()
            _publish(bootstrap, raw, "PROBE", _PROBE, "SX/12345678/25")
            _wait(query, "SELECT count() FROM incidents_latest WHERE incident_id LIKE 'PROBE-%'", _PROBE, 600)
            resumed = time.monotonic() - killed
            with Publisher(bootstrap) as publisher:  # the state rebuilt after the takeover must still release them
                for number in range(_RELEASED):
                    update = {"retailer": "northway", "incident_id": f"HELD-{number}", "crime_reference": "SX/87654321/25"}
                    publisher.send(names.crime_number_updates, json.dumps(update).encode())
            _wait(query, "SELECT count() FROM incidents_latest WHERE eligibility = 'referable' AND incident_id LIKE "
                         "'HELD-%'", _RELEASED, 300)
            still_held = _count(query, "SELECT count() FROM incidents_latest WHERE eligibility = 'pending'")
        finally:
            if other.poll() is None:
                os.killpg(other.pid, signal.SIGKILL)
            other.wait(30)
            worker.stop()
    return {"standby_replicas": standby, "held": held, "fill_seconds": round(fill, 1),
            "kill_to_all_probe_stored_s": round(resumed, 1), "still_held": still_held,
            "survivor_intake_peak_mib": survivor_peak, "survivor_intake_cpu_s": round(survivor_cpu, 1),
            "lost_intake_peak_mib": other_peak, "lost_intake_cpu_s": round(other_cpu, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held", type=int, default=20_000, help="incidents the gate holds when one intake worker is lost")
    parser.add_argument("--standby", default="0,1", help="values of CRIMELINK_TABLE_STANDBY_REPLICAS, run in turn")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    with bench_workdir("crimelink-standby-") as workdir, local_broker(workdir) as bootstrap:
        for number, standby in enumerate(int(value) for value in args.standby.split(",")):
            result = run_once(bootstrap, workdir / f"run-{number}", standby, args.held)
            print("  ".join(f"{name} {value}" for name, value in result.items()), flush=True)
            results.append(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
