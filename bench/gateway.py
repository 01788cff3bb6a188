"""The retailer gateway under load, side by side with ``crimelink ingest`` of the same records in the same run.

    .venv/bin/python -m bench.gateway [--count 10000] [--batch 100] [--clients 1,4] [--json bench/results/gateway.json]

N simulated records (eight retailers, three feed formats, 4% faulty) are sent to one ``crimelink gateway`` process in
batches of ``--batch`` by ``--clients`` concurrent senders (each retailer with its own token; every record screened,
accepted ones on the raw topic with acks from all in-sync replicas before each answer, the answers topic and the access
log written), then the same records are streamed to fresh raw topics by ``crimelink ingest`` (one run per feed format's
file, timed from start to exit, so its Python start is in its time). Prints records per second for each, and the
gateway's batch latency (p50 / p99). No worker runs: the gateway needs none to accept records.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench._local import REPO, bench_workdir, forget_topics, local_broker
from crimelink.access.principals import Role
from crimelink.access.users import UserRegistry
from crimelink.cli.broker import free_port
from crimelink.cli.gateway_client import GatewayClient
from crimelink.cli.worker_process import WorkerProcess
from crimelink.intake.feeds import adapters
from crimelink.intake.stores import StoreRegistry
from crimelink.simulation.feed import RETAILER_FORMATS, Simulator
from crimelink.streams.kafka_auth import login_environment


def _batches(records: list[Any], size: int) -> list[tuple[str, str, list[bytes]]]:
    """(retailer, feed format, payloads) batches, each one retailer's records in one format."""
    by_retailer: dict[str, list[bytes]] = defaultdict(list)
    for record in records:
        by_retailer[record.key.decode().partition(":")[0]].append(record.value)
    return [(retailer, RETAILER_FORMATS[retailer], payloads[start:start + size])
            for retailer, payloads in sorted(by_retailer.items()) for start in range(0, len(payloads), size)]


def _through_gateway(url: str, tokens: dict[str, str], batches: list[tuple[str, str, list[bytes]]],
                     clients: int) -> dict[str, Any]:
    latencies: list[float] = []
    outcomes: dict[str, int] = defaultdict(int)
    queue = list(reversed(batches))
    lock = threading.Lock()

    def sender() -> None:
        senders = {retailer: GatewayClient(url, token, timeout=120) for retailer, token in tokens.items()}
        while True:
            with lock:
                if not queue:
                    break
                retailer, feed_format, payloads = queue.pop()
            began = time.perf_counter()
            senders[retailer].send_batch(feed_format, payloads)  # the odd unreadable record goes alone first
            with lock:
                latencies.append(time.perf_counter() - began)
        with lock:
            for client in senders.values():
                for what, count in client.outcomes.items():
                    outcomes[what] += count
                client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    answered = sum(len(payloads) for _, _, payloads in batches)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else latencies * 99
    return {"clients": clients, "records": answered, "seconds": round(seconds, 3),
            "records_per_s": round(answered / seconds), "batches": len(latencies),
            "batch_p50_ms": round(statistics.median(latencies) * 1000, 1), "batch_p99_ms": round(cuts[98] * 1000, 1),
            "outcomes": dict(outcomes)}


def _files(records: list[Any], workdir: Path) -> dict[str, Path]:
    """The records as the feed files a retailer would hand over: JSON Lines, or one CSV with its header once."""
    paths: dict[str, Path] = {}
    lines: dict[str, list[bytes]] = defaultdict(list)
    for record in records:
        lines[record.feed_format].append(record.value)
    for feed_format, payloads in lines.items():
        path = workdir / f"{feed_format}.{'csv' if adapters()[feed_format].encoding == 'csv' else 'jsonl'}"
        if adapters()[feed_format].encoding == "csv":
            rows = [list(csv.reader(io.StringIO(payload.decode("utf-8", "replace")))) for payload in payloads]
            with path.open("w", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(rows[0][0])
                writer.writerows(row[1] for row in rows if len(row) == 2)
        else:
            path.write_bytes(b"\n".join(payload.replace(b"\n", b" ") for payload in payloads) + b"\n")
        paths[feed_format] = path
    return paths


def _through_ingest(env: dict[str, str], files: dict[str, Path]) -> dict[str, Any]:
    started = time.perf_counter()
    for feed_format, path in sorted(files.items()):
        subprocess.run([sys.executable, "-m", "crimelink.cli", "ingest", str(path), "--format", feed_format], env=env,
                       cwd=REPO, check=False, capture_output=True, timeout=1800)
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "processes": len(files)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", default="1,4", help="concurrent senders, one run each (comma-separated)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    records = list(Simulator(StoreRegistry.load(), seed=5, fault_rate=0.04).records(args.count))
    run = uuid.uuid4().hex[:8]
    with bench_workdir("crimelink-bench-gateway-") as workdir, local_broker(workdir) as bootstrap, \
            forget_topics(bootstrap, f"bg{run}"):
        registry = UserRegistry(workdir / "users.json")
        tokens = {retailer: registry.add(f"{retailer}-bench", Role.RETAILER, retailers=[retailer])
                  for retailer in RETAILER_FORMATS}
        results: dict[str, Any] = {"count": args.count, "batch": args.batch, "gateway": []}
        for clients in [int(part) for part in args.clients.split(",")]:
            prefix = f"bg{run}c{clients}."
            port = free_port()
            env = {**os.environ, "CRIMELINK_HOME": str(workdir), **login_environment(bootstrap),
                   "CRIMELINK_TOPIC_PREFIX": prefix, "CRIMELINK_TOPIC_PARTITIONS": "1",
                   "CRIMELINK_GATEWAY_PORT": str(port), "CRIMELINK_GATEWAY_RATE_PER_SECOND": "1000000",
                   "CRIMELINK_GATEWAY_RATE_BURST": "1000000", "CRIMELINK_GATEWAY_MAX_BATCH_RECORDS": str(args.batch)}
            gateway = WorkerProcess(env, workdir / f"gateway-{clients}.log", f"http://127.0.0.1:{port}",
                                    command=("gateway",))
            gateway.start()
            try:
                results["gateway"].append(_through_gateway(f"http://127.0.0.1:{port}", tokens,
                                                           _batches(records, args.batch), clients))
            finally:
                gateway.stop()
        ingest_env = {**os.environ, "CRIMELINK_HOME": str(workdir), **login_environment(bootstrap),
                      "CRIMELINK_TOPIC_PREFIX": f"bg{run}ingest.", "CRIMELINK_TOPIC_PARTITIONS": "1"}
        subprocess.run([sys.executable, "-m", "crimelink.cli", "topics"], env=ingest_env, cwd=REPO, check=True,
                       capture_output=True, timeout=120)
        ingest = _through_ingest(ingest_env, _files(records, workdir))
        ingest["records_per_s"] = round(args.count / ingest["seconds"])
        results["ingest"] = ingest
    for run_result in results["gateway"]:
        run_result["ratio_to_ingest"] = round(run_result["records_per_s"] / ingest["records_per_s"], 2)
        print(f"gateway, {run_result['clients']} client(s): {run_result['records_per_s']:,} records/s "
              f"({run_result['records']:,} in {run_result['seconds']} s, batches of {args.batch}: p50 "
              f"{run_result['batch_p50_ms']} ms, p99 {run_result['batch_p99_ms']} ms; "
              f"{run_result['ratio_to_ingest']}x ingest); answers {run_result['outcomes']}")
    print(f"crimelink ingest: {ingest['records_per_s']:,} records/s ({args.count:,} in {ingest['seconds']} s, "
          f"{ingest['processes']} runs, each with its Python start)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
