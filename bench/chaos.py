"""Kill the worker, the intake worker or a broker at random during a steady stream, and count every record.

    .venv/bin/python -m bench.chaos [--runs 5] [--kills 10] [--rate 100] [--json bench/results/chaos.json]
    .venv/bin/python -m bench.chaos --brokers 3 --victims broker,controller,worker+intake --kills 3

Each run starts a worker (with one intake worker) on fresh topics and streams simulated records from every retailer
(three feed formats, 4% faulty, organised groups planted in it) at ``--rate`` per second. Half of the incidents sent
without a crime number get one later, as a crime-number update 0.2-3 s after the incident. Meanwhile it SIGKILLs,
at random moments, each of ``--victims`` ``--kills`` times: the worker (then starts it again, as a supervisor
would), the intake worker (the worker starts another), both at once (one machine lost), and on a three-node cluster
(``--brokers 3``: 3 copies of every topic, 2 in sync for a write) one broker that is not the active controller, or
the active controller itself, started again once storing has resumed without it. After each kill it prints how long
until storing resumed.

Then it stops publishing, waits until the store is quiet, and counts against what the project's own normaliser
predicts offline for every record sent:

- lost: an incident never stored, or a refused record not in ``dead_letters``;
- doubled: ``incidents_latest`` rows beyond one per incident (the view's job), and feedback rows stored twice;
- repeated alerts: an (alert, level) published twice on the alerts topic;
- late updates: a crime-number update that was sent but whose incident is not referable in the end.

Exit status 1 when any run lost, doubled or repeated anything.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from bench._local import bench_workdir, children_of, forget_topics, local_broker, local_cluster, start_worker
from crimelink.cli.broker import LocalCluster, in_sync_for
from crimelink.cli.query_client import run_query
from crimelink.cli.worker_process import WorkerProcess
from crimelink.intake.edges import EventWindow
from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.schemas.outcomes import DeadLetter
from crimelink.settings import Settings
from crimelink.simulation.feed import Simulator
from crimelink.simulation.scenarios import OrcScenario
from crimelink.streams.kafka_auth import Broker, client_options, settings_of
from crimelink.streams.kafka_io import Publisher, declare_topics, replication_of
from crimelink.streams.topics import TopicNames


@dataclass
class Sent:
    """What the stream sent, and what the normaliser says should come of it."""

    incidents: set[tuple[str, str]] = field(default_factory=set)
    dead: set[tuple[str, int, int]] = field(default_factory=set)  # (topic, partition, offset)
    dead_pending: list[Any] = field(default_factory=list)  # (topic, future) of records predicted refused
    incident_pending: list[Any] = field(default_factory=list)  # ((retailer, incident), future) of the others
    update_pending: list[Any] = field(default_factory=list)  # ((retailer, incident), future) of crime-number updates
    not_accepted: int = 0  # sends the broker never confirmed (the producer gave up): not counted as sent
    updated: set[tuple[str, str]] = field(default_factory=set)
    records: int = 0  # written by the stream's thread only, read once it has ended


def _stream(settings: Settings, rate: float, seed: int, stop: threading.Event, sent: Sent) -> None:
    names = TopicNames(settings)
    registry = StoreRegistry.load(settings.stores_file)
    normaliser = Normaliser(registry, EventWindow.from_settings(settings.intake))
    simulator = Simulator(registry, seed=seed, fault_rate=0.04, id_prefix=f"C{seed}-")
    planted = list(OrcScenario(registry, seed=seed, days=14, background=0, travelling=2, steal_to_order=1, local=1,
                               lookalikes=4, start=datetime.now(UTC).replace(microsecond=0) - timedelta(days=15)).records)
    chooser = random.Random(seed)
    updates: list[tuple[float, bytes, bytes]] = []
    started = time.monotonic()
    with Publisher(settings.effective_kafka) as publisher:

        def send_update(key: bytes, update: bytes) -> None:
            retailer, _, incident_id = key.decode().partition(":")
            sent.update_pending.append(((retailer, incident_id), publisher.send(names.crime_number_updates, update,
                                                                                key=key)))

        while not stop.is_set():
            record = simulator.next_record()
            batch = [(record.feed_format, record.key, record.value, record.later_crime_number)]
            if planted and sent.records % 8 == 0:
                extra = planted.pop(0)
                batch.append((extra.feed_format, extra.key, extra.value, None))
            for feed_format, key, value, later in batch:
                topic = names.raw[feed_format]
                future = publisher.send(topic, value, key=key)
                outcome = normaliser.normalise(RawRecord(feed_format, value, topic, 0, 0, datetime.now(UTC)))
                if isinstance(outcome, DeadLetter):
                    sent.dead_pending.append((topic, future))
                else:
                    sent.incident_pending.append(((outcome.retailer, outcome.incident_id), future))
                sent.records += 1
                if later and not isinstance(outcome, DeadLetter) and chooser.random() < 0.5:
                    retailer, _, incident_id = key.decode().partition(":")
                    update = json.dumps({"retailer": retailer, "incident_id": incident_id,
                                         "crime_reference": later}).encode()
                    heapq.heappush(updates, (time.monotonic() + chooser.uniform(0.2, 3.0), key, update))
            while updates and updates[0][0] <= time.monotonic():
                _, key, update = heapq.heappop(updates)
                send_update(key, update)
            stop.wait(max(0.0, started + sent.records / rate - time.monotonic()))
        for _, key, update in updates:  # the stream stops; the updates it owes still go
            send_update(key, update)
        publisher.flush()
    for topic, future in sent.dead_pending:
        metadata = _confirmed(future, sent)
        if metadata is not None:
            sent.dead.add((topic, metadata.partition, metadata.offset))
    for incident, future in sent.incident_pending:
        if _confirmed(future, sent) is not None:
            sent.incidents.add(incident)
    for incident, future in sent.update_pending:
        if _confirmed(future, sent) is not None:
            sent.updated.add(incident)


def _confirmed(future: Any, sent: Sent) -> Any:
    """The record's metadata once the broker confirmed it; None (and counted) when the producer gave up on it, which a
    retailer's system would see and send again: what was never accepted cannot be lost by crimelink."""
    try:
        return future.get(timeout=150)
    except Exception:  # noqa: BLE001 - any producer failure: the record was not accepted
        sent.not_accepted += 1
        return None


def _stored(query_settings: Settings) -> int | None:
    try:
        return int(run_query("SELECT (SELECT count() FROM incidents) + (SELECT count() FROM dead_letters)", {},
                             query_settings).rows[0][0])
    except Exception:  # noqa: BLE001 - the worker is down or starting: not stored yet
        return None


def _resumed_after(query_settings: Settings, killed_at: datetime, timeout: float = 180.0) -> float:
    """Seconds from ``killed_at`` until an incident normalised after it is stored: the whole pipeline flows again."""
    sql = ("SELECT count() FROM incidents WHERE received_at > "
           f"toDateTime64('{killed_at:%Y-%m-%d %H:%M:%S.%f}', 6, 'UTC')")
    while (datetime.now(UTC) - killed_at).total_seconds() < timeout:
        try:
            if run_query(sql, {}, query_settings).rows[0][0]:
                return (datetime.now(UTC) - killed_at).total_seconds()
        except Exception:  # noqa: BLE001,S110 - the worker is down or starting
            pass
        time.sleep(0.25)
    return float("inf")


def _alert_repeats(bootstrap: Broker, topic: str) -> int:
    consumer = KafkaConsumer(topic, **client_options(bootstrap), auto_offset_reset="earliest", enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=3000)
    seen: Counter[tuple[str, int]] = Counter()
    try:
        for message in consumer:
            alert = json.loads(message.value)
            seen[(alert["alert_id"], alert["level"])] += 1
    finally:
        consumer.close()
    return sum(count - 1 for count in seen.values() if count > 1)


VICTIMS = ("worker", "intake", "worker+intake", "broker", "controller")
"""What can be killed: the worker (started again), its intake worker (the worker starts another), both at once, one
broker of a cluster that is not the active controller, and the active controller (the KRaft quorum's leader); a
broker killed is started again once storing has resumed without it."""


def run_once(bootstrap: Broker, workdir: Path, seed: int, kills: int, rate: float, settle: float, *,
             victims: Sequence[str] = ("worker", "intake"), cluster: LocalCluster | None = None) -> dict[str, Any]:
    """One run: ``kills`` SIGKILLs of each of ``victims`` in a random order during the stream, then every record
    counted. Broker victims need ``cluster`` (the one ``bootstrap`` names)."""
    unknown = [victim for victim in victims if victim not in VICTIMS]
    if unknown or (cluster is None and {"broker", "controller"} & set(victims)):
        raise ValueError(f"victims are {', '.join(VICTIMS)} (broker and controller on a cluster only): {unknown or victims}")
    token = uuid.uuid4().hex[:6]
    replication = cluster.replication if cluster is not None else 1
    settings = Settings(home=workdir, kafka=settings_of(bootstrap, topic_prefix=f"k{token}.", replication_factor=replication,
                                                        min_insync_replicas=in_sync_for(replication)))
    names = TopicNames(settings)
    declare_topics(bootstrap, names.all(), settings.kafka.topic_partitions, names.partitions, names.configs,
                   names.replication)
    app_id = f"chaos-{token}"
    keep = os.environ.get("CRIMELINK_CHAOS_KEEP_TOPICS") == "1"  # to look into a run that lost something
    with contextlib.nullcontext() if keep else forget_topics(bootstrap, f"k{token}.", app_id):
        worker, query_settings = start_worker(settings, workdir / "worker", app_id,
                                              CRIMELINK_TOPIC_PARTITIONS=str(settings.kafka.topic_partitions),
                                              CRIMELINK_SINK_FLUSH_SECONDS="0.5",
                                              **settings.kafka.login_environment())
        sent, stop = Sent(), threading.Event()
        stream = threading.Thread(target=_stream, args=(settings, rate, seed, stop, sent), daemon=True)
        stream.start()
        plan = [victim for victim in victims for _ in range(kills)]
        chooser = random.Random(seed)
        chooser.shuffle(plan)
        resumed: dict[str, list[float]] = {victim: [] for victim in victims}
        rejoined: list[float] = []
        try:
            for victim in plan:
                time.sleep(chooser.uniform(2.0, 6.0))
                killed_at = datetime.now(UTC)
                assert worker.process is not None
                node = None
                if victim in ("worker", "worker+intake"):
                    intake = children_of(worker.process.pid) if victim == "worker+intake" else []
                    for pid in (*intake, worker.process.pid):  # at the same moment, as one machine lost
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    worker.process.wait()
                    worker = _restarted(worker)
                elif victim == "intake":
                    intake = children_of(worker.process.pid)
                    if not intake:
                        continue
                    os.kill(intake[0], signal.SIGKILL)
                else:
                    assert cluster is not None
                    leader = cluster.quorum_leader()
                    node = leader if victim == "controller" else chooser.choice(
                        [other.node_id for other in cluster.nodes if other.node_id != leader])
                    cluster.kill(node)
                seconds = _resumed_after(query_settings, killed_at)
                resumed[victim].append(seconds)
                said = f"  killed the {victim:13}{f' (node {node})' if node else ''}: storing resumed after {seconds:5.1f} s"
                if node is not None:
                    started = time.monotonic()
                    cluster.start_node(node)
                    rejoined.append(time.monotonic() - started)
                    said += f"; node started again in {rejoined[-1]:.1f} s"
                print(said, flush=True)
        finally:
            stop.set()
            stream.join(timeout=200)
        deadline, last, quiet_since = time.monotonic() + settle, -1, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - quiet_since < 15:
            now = _stored(query_settings) or 0
            if now != last:
                last, quiet_since = now, time.monotonic()
            time.sleep(1)
        try:
            result = _count(query_settings, sent, bootstrap, names)
        finally:
            worker.stop()
        kept = replication_of(bootstrap, [f"k{token}.", app_id])  # Faust's changelogs are named after the app
        result["topics_fewest_copies"] = min(copies for copies, _ in kept.values())
        result["topics_fewest_min_insync"] = min(in_sync for _, in_sync in kept.values())
        result["changelogs"] = sum(1 for name in kept if name.endswith("-changelog"))
        for victim, seconds in resumed.items():
            result[f"resumed_after_{victim.replace('+', '_and_')}_kill_s"] = _summary(seconds)
        if rejoined:
            result["broker_started_again_s"] = _summary(rejoined)
        return result


def _restarted(worker: WorkerProcess) -> WorkerProcess:
    """A new worker process on the same working area, as a supervisor (systemd, Kubernetes) would start."""
    fresh = WorkerProcess(worker.env, worker.log_file, worker.web_url)
    fresh.start()
    return fresh


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"median": round(statistics.median(values), 1), "max": round(max(values), 1), "count": len(values)}


def _count(query_settings: Settings, sent: Sent, bootstrap: Broker, names: TopicNames) -> dict[str, Any]:
    def rows(sql: str) -> list[list[Any]]:
        return run_query(sql, {}, query_settings).rows

    stored = {(retailer, incident) for retailer, incident in rows("SELECT DISTINCT retailer, incident_id FROM incidents")}
    referable = {(retailer, incident) for retailer, incident in rows(
        "SELECT retailer, incident_id FROM incidents_latest WHERE eligibility = 'referable'")}
    letters = {(topic, partition, offset) for topic, partition, offset in rows(
        "SELECT DISTINCT topic, partition, offset FROM dead_letters")}
    latest_rows, latest_keys = rows("SELECT count(), uniqExact(retailer, incident_id) FROM incidents_latest")[0]
    feedback_rows, feedback_keys = rows("SELECT count(), uniqExact(retailer, incident_id, revision, status, reason) "
                                        "FROM retailer_feedback FINAL")[0]
    lost_incidents = sent.incidents - stored
    lost_letters = sent.dead - letters
    return {
        "records": sent.records,
        "not_accepted_by_the_broker": sent.not_accepted,
        "incidents_expected": len(sent.incidents),
        "dead_letters_expected": len(sent.dead),
        "lost_incidents": len(lost_incidents),
        "lost_dead_letters": len(lost_letters),
        "lost_examples": sorted(f"{r}:{i}" for r, i in lost_incidents)[:5] + sorted(map(str, lost_letters))[:5],
        "doubled_in_incidents_latest": latest_rows - latest_keys,
        "feedback_stored_twice": feedback_rows - feedback_keys,
        "repeated_alerts": _alert_repeats(bootstrap, names.alerts),
        "updates_sent": len(sent.updated),
        "updates_not_applied": len(sent.updated - referable),
        "updates_not_applied_examples": sorted(f"{r}:{i}" for r, i in sent.updated - referable)[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs of each victim")
    parser.add_argument("--victims", default="worker,intake",
                        help=f"comma-separated, of {', '.join(VICTIMS)} (broker and controller with --brokers 3)")
    parser.add_argument("--brokers", type=int, default=1,
                        help="1: one broker (or CRIMELINK_BENCH_BOOTSTRAP); 3: a local three-node cluster for the run")
    parser.add_argument("--rate", type=float, default=100.0, help="records per second")
    parser.add_argument("--settle", type=float, default=180.0, help="longest wait for the store to catch up")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = []
    victims = [victim.strip() for victim in args.victims.split(",") if victim.strip()]
    with bench_workdir("crimelink-chaos-") as workdir, \
            (local_cluster(workdir, args.brokers) if args.brokers > 1 else local_broker(workdir)) as broker:
        cluster = broker if isinstance(broker, LocalCluster) else None
        bootstrap = cluster.bootstrap if cluster is not None else broker
        for number in range(args.runs):
            print(f"run {number + 1} of {args.runs}", flush=True)
            result = run_once(bootstrap, workdir / f"run-{number}", args.seed + number, args.kills, args.rate,
                              args.settle, victims=victims, cluster=cluster)
            results.append(result)
            for name, value in result.items():
                print(f"  {name:30} {value}", flush=True)
        failed = [result for result in results if result["lost_incidents"] or result["lost_dead_letters"]
                  or result["doubled_in_incidents_latest"] or result["feedback_stored_twice"] or result["repeated_alerts"]]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    print(f"{len(results) - len(failed)} of {len(results)} runs lost, doubled and repeated nothing")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
