"""Latency at a fixed offered rate: produce -> row in ClickHouse, and produce -> alert.

    .venv/bin/python -m bench.latency [--rates 500,2000] [--seconds 20] [--secure] [--json bench/results/latency.json]

For each rate a fresh worker (one process, its own topics and embedded ClickHouse) receives an
OrcScenario stream (police.uk-weighted background with planted travelling groups) paced at that
rate. Produce -> row is each incident's ``ingested_at`` in ClickHouse minus the moment it was
sent; produce -> alert is when an alert arrived on the alerts topic minus the moment its latest
incident was sent (the one that completed the pattern). Percentiles p50/p95/p99 of each, with
the rate actually achieved by the producer. Both clocks are this machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench._local import bench_workdir, forget_topics, local_broker, start_worker
from crimelink.cli.query_client import run_query
from crimelink.intake.stores import StoreRegistry
from crimelink.settings import Settings
from crimelink.simulation.scenarios import OrcScenario
from crimelink.streams.engine.record_batches import BatchProducer, Output
from crimelink.streams.kafka_auth import Broker, client_options, settings_of
from crimelink.streams.kafka_io import Publisher, declare_topics
from crimelink.streams.topics import TopicNames

_TICK = 0.01  # the producer sends in 10 ms slices


def percentiles(values: list[float]) -> dict[str, float | int]:
    """p50, p95, p99 and max in milliseconds (nearest rank), with the sample count."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def rank(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))] * 1000, 1)

    return {"n": len(ordered), "p50_ms": rank(0.50), "p95_ms": rank(0.95), "p99_ms": rank(0.99),
            "max_ms": round(ordered[-1] * 1000, 1)}


class _AlertListener(threading.Thread):
    """Reads the alerts topic and notes when each alert arrived."""

    def __init__(self, bootstrap: Broker, topic: str) -> None:
        super().__init__(daemon=True)
        from kafka import KafkaConsumer

        self.consumer = KafkaConsumer(topic, **client_options(bootstrap), auto_offset_reset="earliest",
                                      group_id=f"latency-{uuid.uuid4().hex[:6]}", consumer_timeout_ms=200)
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for message in self.consumer:
                self.arrivals.append((time.time(), json.loads(message.value)))
        self.consumer.close()


async def _paced(bootstrap: Broker, names: TopicNames, records: list[Any], rate: float) -> tuple[dict[str, float], float]:
    """Send at ``rate`` per second, each 10 ms slice's records as one record batch per topic partition; returns
    each key's send time and the achieved rate.

    Why batches: the load generator shares the two cores with the worker it measures, and
    kafka-python's per-record send took about 275 µs of CPU each here, half a core at 2,000/s.
    Retailers' systems do not run on the worker's machine; the generator should cost it little.
    """
    producer = BatchProducer(bootstrap, "crimelink-latency-generator")
    try:
        sent_at: dict[str, float] = {}
        pending: list[asyncio.Future[Any]] = []
        started = time.perf_counter()
        wall_offset = time.time() - started
        index = tick = 0
        while index < len(records):
            tick += 1
            due = min(len(records), round(tick * _TICK * rate))  # everything due by the end of this slice
            output = Output()
            now = time.perf_counter() + wall_offset
            for record in records[index:due]:
                output.add(names.raw[record.feed_format], record.key, record.value)
                sent_at[record.key.decode()] = now
            pending.extend(await producer.send(output))  # not awaited here: the next slice must not wait on acks
            index = due
            await asyncio.sleep(max(0.0, started + tick * _TICK - time.perf_counter()))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent_at, len(records) / (time.perf_counter() - started)


def run_rate(bootstrap: Broker, rate: float, seconds: float, workdir: Path, settle_seconds: float) -> dict[str, Any]:
    token = uuid.uuid4().hex[:6]
    home = workdir / f"rate-{int(rate)}"
    settings = Settings(home=home, kafka=settings_of(bootstrap, topic_prefix=f"l{token}.", topic_partitions=1))
    with forget_topics(bootstrap, settings.kafka.topic_prefix, f"latency-{token}"):
        return _run_rate(bootstrap, rate, seconds, settings, token, settle_seconds)


def _run_rate(bootstrap: Broker, rate: float, seconds: float, settings: Settings, token: str,
              settle_seconds: float) -> dict[str, Any]:
    home = settings.home
    names = TopicNames(settings)
    declare_topics(bootstrap, names.all(), 1, names.partitions)
    count = int(rate * seconds)
    scenario = OrcScenario(StoreRegistry.load(), seed=11, background=max(count - 400, 100))
    records = scenario.records[:count]
    worker, query_settings = start_worker(settings, home, f"latency-{token}")
    listener = _AlertListener(bootstrap, names.alerts)
    listener.start()
    try:
        with Publisher(bootstrap) as publisher:
            warm = [record for record in OrcScenario(StoreRegistry.load(), seed=12, background=50).records][:50]
            for record in warm:  # the worker has joined its group and the sinks are writing before timing starts
                publisher.send(names.raw[record.feed_format], record.value, key=record.key)
            publisher.flush()
            _wait_for_rows(query_settings, len(warm), 120)
        sent_at, achieved = asyncio.run(_paced(bootstrap, names, records, rate))
        distinct = len({record.key for record in [*warm, *records]})  # the warm-up may reuse scenario ids
        rows = _wait_for_rows(query_settings, distinct, settle_seconds)
        stored = run_query("SELECT concat(retailer, ':', incident_id) AS key, "
                           "toUnixTimestamp64Milli(min(ingested_at)) AS at FROM incidents GROUP BY key", {},
                           query_settings).rows
        time.sleep(2)  # the last alerts
    finally:
        listener.stopping.set()
        worker.stop()
    warm_keys = {record.key.decode() for record in warm}
    row_latency = [at / 1000 - sent_at[key] for key, at in stored if key in sent_at and key not in warm_keys]
    alert_latency = []
    for arrived, alert in listener.arrivals:
        members = [entry["key"] for entry in alert["evidence"]["timeline"] if entry["key"] in sent_at]
        if members:
            alert_latency.append(arrived - max(sent_at[key] for key in members))
    return {
        "offered_per_s": rate, "achieved_send_per_s": round(achieved), "incidents": len(records),
        "incidents_stored": len(row_latency), "distinct_keys_stored": rows, "alerts": len(listener.arrivals),
        "produce_to_row": percentiles(row_latency), "produce_to_alert": percentiles(alert_latency),
        "row_latency_mean_ms": round(statistics.fmean(row_latency) * 1000, 1) if row_latency else None,
    }


def _wait_for_rows(settings: Settings, expect: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    rows = 0
    while time.monotonic() < deadline:
        rows = int(run_query("SELECT count() FROM (SELECT DISTINCT retailer, incident_id FROM incidents)", {},
                             settings).rows[0][0])
        if rows >= expect:
            break
        time.sleep(0.5)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="500,2000", help="offered rates, incidents per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each rate is offered")
    parser.add_argument("--settle", type=float, default=300.0, help="longest wait for the last rows after sending")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--secure", action="store_true", help="on a local broker with TLS, SCRAM logins and ACLs")
    args = parser.parse_args()
    with bench_workdir("crimelink-latency-") as workdir, local_broker(workdir, args.secure) as bootstrap:
        results = [run_rate(bootstrap, float(rate), args.seconds, workdir, args.settle) for rate in args.rates.split(",")]
    print(f"{'offered/s':>10} {'sent/s':>8} {'stored':>8} {'alerts':>7} | {'produce->row p50/p95/p99 ms':>30} | "
          f"{'produce->alert p50/p95/p99 ms (n)':>36}")
    for row in results:
        stored, alert = row["produce_to_row"], row["produce_to_alert"]
        row_text = f"{stored.get('p50_ms')}/{stored.get('p95_ms')}/{stored.get('p99_ms')}"
        alert_text = f"{alert.get('p50_ms')}/{alert.get('p95_ms')}/{alert.get('p99_ms')} ({alert['n']})"
        print(f"{row['offered_per_s']:>10.0f} {row['achieved_send_per_s']:>8} {row['incidents_stored']:>8} "
              f"{row['alerts']:>7} | {row_text:>30} | {alert_text:>36}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
