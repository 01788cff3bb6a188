"""End-to-end throughput against the ceilings, measured side by side on the same messages.

    .venv/bin/python -m bench.throughput [--count 20000] [--secure] [--json bench/results/throughput.json]

``--secure`` runs it all on a local broker that takes only TLS and SCRAM logins (ACLs on), every client logged in:
what the login and encryption cost. CRIMELINK_BENCH_BOOTSTRAP (with CRIMELINK_KAFKA_* for its login) runs on a
broker of your own instead.

Produces N simulated incidents (three feed formats, realistic content, 4% faulty) to fresh raw
topics on a local broker, then measures on those same messages:

1. raw aiokafka ``getmany`` (consume only);
2. a bare Faust agent with ``take(1000)`` (consume only), twice: Faust as shipped, and with the fetch wait
   crimelink's worker uses (``crimelink.streams.engine.transport``) -- the fair ceiling, and the one the ratio is taken to;
3. crimelink's worker: normalise -> crime-number gate -> correlation -> ClickHouse, from the first
   record consumed to the last row visible in ClickHouse, with the CPU time and peak memory of the
   worker and its intake workers (peaks summed);
4. crimelink's own work on the same records with no Kafka at all (bench/domain_work.py), the intake
   worker's share and the worker's timed apart: with both processes busy, the slower share bounds the
   rate, even if every transport cost were zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench._local import REPO, bench_workdir, children_of, forget_topics, local_broker, start_worker, usage
from bench.domain_work import domain_work
from crimelink.cli.query_client import run_query
from crimelink.intake.stores import StoreRegistry
from crimelink.settings import Settings
from crimelink.simulation.feed import Simulator
from crimelink.streams.engine.transport import SCHEME
from crimelink.streams.kafka_auth import Broker, address, client_options, login_environment, settings_of
from crimelink.streams.kafka_io import Publisher, declare_topics
from crimelink.streams.topics import TopicNames


async def _getmany(bootstrap: Broker, topics: list[str], expect: int) -> float:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(*topics, **client_options(bootstrap), auto_offset_reset="earliest",
                                group_id=f"bench-{uuid.uuid4().hex[:6]}", enable_auto_commit=False)
    await consumer.start()
    seen, first = 0, 0.0
    try:
        while seen < expect:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batch.values():
                if records and not first:
                    first = time.perf_counter()
                seen += len(records)
    finally:
        await consumer.stop()
    return time.perf_counter() - first


def _bare_faust(bootstrap: Broker, topics: list[str], expect: int, workdir: Path, scheme: str) -> float:
    out = workdir / f"bare-{scheme}.json"
    env = {**os.environ, **login_environment(bootstrap), "BARE_TOPICS": ",".join(topics), "BARE_EXPECT": str(expect),
           "BARE_BOOTSTRAP": address(bootstrap),
           "BARE_OUT": str(out), "BARE_DATADIR": str(workdir / f"bare-{scheme}-data"), "BARE_SCHEME": scheme}
    log = (workdir / f"bare-{scheme}.log").open("w")
    subprocess.run([sys.executable, "-m", "bench.bare_faust"], env=env,
                   cwd=REPO, timeout=600, check=False, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    if not out.exists():
        raise RuntimeError(f"the bare Faust run failed; see {workdir / f'bare-{scheme}.log'}")
    return float(json.loads(out.read_text())["seconds"])


def _proc_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak resident KiB) of a live process and its live children (its intake workers)."""
    each = [usage(member) for member in [pid, *children_of(pid)]]
    return sum(cpu for cpu, _ in each), sum(peak for _, peak in each)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--secure", action="store_true", help="on a local broker with TLS, SCRAM logins and ACLs")
    parser.add_argument("--profile", type=Path,
                        help="record the worker with py-spy (raw stacks per thread) into this file; slows the worker down")
    args = parser.parse_args()
    token = uuid.uuid4().hex[:6]
    with (bench_workdir("crimelink-bench-") as workdir, local_broker(workdir, args.secure) as bootstrap,
          forget_topics(bootstrap, f"b{token}.", f"bench-{token}")):
        settings = Settings(home=workdir, kafka=settings_of(bootstrap, topic_prefix=f"b{token}.", topic_partitions=1))
        names = TopicNames(settings)
        declare_topics(bootstrap, names.all(), 1, names.partitions)
        records = list(Simulator(StoreRegistry.load(), seed=3, fault_rate=0.04).records(args.count))
        started = time.perf_counter()
        with Publisher(bootstrap) as publisher:
            for record in records:
                publisher.send(names.raw[record.feed_format], record.value, key=record.key)
        produce_seconds = time.perf_counter() - started
        raw_topics = list(names.raw.values())

        getmany_seconds = asyncio.run(_getmany(bootstrap, raw_topics, args.count))
        stock_seconds = _bare_faust(bootstrap, raw_topics, args.count, workdir, "kafka")
        bare_seconds = _bare_faust(bootstrap, raw_topics, args.count, workdir, SCHEME)

        worker, query_settings = start_worker(settings, workdir / "worker", f"bench-{token}",
                                              CRIMELINK_SINK_FLUSH_SECONDS="0.5")
        assert worker.process is not None
        spy = None
        if args.profile:
            py_spy = str(Path(sys.executable).with_name("py-spy"))
            spy = subprocess.Popen([py_spy, "record", "--pid", str(worker.process.pid), "--format", "raw",
                                    "--rate", "250", "--threads", "-o", str(args.profile)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        first = None
        done = None
        try:  # a failed query must not leave the worker running (it once kept a core busy for an hour)
            while done is None:
                rows = run_query("SELECT (SELECT count() FROM incidents) + (SELECT count() FROM dead_letters)", {},
                                 query_settings).rows[0][0]
                now = time.perf_counter()
                if rows and first is None:
                    first = now
                if rows >= args.count:
                    done = now
                time.sleep(0.2)
            cpu, peak_kib = _proc_stats(worker.process.pid)
        finally:
            worker.stop()
        if spy is not None:
            spy.wait(30)
        crimelink_seconds = done - (first or done)
        domain = domain_work(records)
        results = {
            "count": args.count,
            "kafka_security_protocol": settings.kafka.security_protocol,
            "produce_per_s": round(args.count / produce_seconds),
            "aiokafka_getmany_per_s": round(args.count / getmany_seconds),
            "bare_faust_as_shipped_per_s": round(args.count / stock_seconds),
            "bare_faust_per_s": round(args.count / bare_seconds),
            "crimelink_end_to_end_per_s": round(args.count / max(crimelink_seconds, 1e-9)),
            "crimelink_worker_cpu_seconds": round(cpu, 1),
            "crimelink_worker_peak_rss_mib": round(peak_kib / 1024),
            "domain_work_only_per_s": round(args.count / max(domain.intake, domain.worker)),
            "domain_work_us_per_incident": round(domain.total / args.count * 1e6),
            "domain_work_intake_us_per_incident": round(domain.intake / args.count * 1e6),
            "domain_work_worker_us_per_incident": round(domain.worker / args.count * 1e6),
        }
        results["ratio_to_bare_faust"] = round(results["crimelink_end_to_end_per_s"] / results["bare_faust_per_s"], 3)
        results["ratio_to_bare_faust_as_shipped"] = round(
            results["crimelink_end_to_end_per_s"] / results["bare_faust_as_shipped_per_s"], 3)
        results["ratio_to_getmany"] = round(results["crimelink_end_to_end_per_s"] / results["aiokafka_getmany_per_s"], 3)
        for name, value in results.items():
            print(f"{name:34} {value}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
