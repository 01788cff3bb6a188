"""What the end-to-end benchmarks share: a broker to run against, and a crimelink worker on its own topics."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import SecretStr

from crimelink.access.principals import Role
from crimelink.access.users import UserRegistry
from crimelink.cli.broker import SERVICE_USER, LocalBroker, LocalCluster, fetch_broker, free_port
from crimelink.cli.worker_process import WorkerProcess
from crimelink.errors import BrokerError
from crimelink.settings import KafkaSettings, Settings
from crimelink.streams.kafka_auth import Broker, login_environment
from crimelink.streams.kafka_io import delete_topics

__all__ = ["REPO", "bench_workdir", "children_of", "forget_topics", "local_broker", "local_cluster", "start_worker",
           "usage"]

REPO = Path(__file__).resolve().parent.parent


def children_of(pid: int) -> list[int]:
    """The live child processes of ``pid`` (a worker's intake workers); none once it is gone."""
    try:
        return sorted(int(child) for task in Path(f"/proc/{pid}/task").glob("*/children")
                      for child in task.read_text().split())
    except OSError:
        return []


def usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak resident KiB) of one live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmHWM"))
    return cpu, peak


@contextmanager
def bench_workdir(prefix: str) -> Iterator[Path]:
    """A working area (broker data, worker logs, embedded ClickHouse) removed after a run that succeeds; a failed run
    keeps it, and says where, for its logs. Why: each run writes hundreds of MB, and they used to pile up in /tmp."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield workdir
    except BaseException:
        print(f"kept {workdir} (worker and broker logs)", file=sys.stderr)
        raise
    shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def forget_topics(bootstrap: Broker, *prefixes: str) -> Iterator[None]:
    """Delete the run's topics (its topic prefix, and its app id's for Faust's own) once it is done, so a broker named by
    CRIMELINK_BENCH_BOOTSTRAP does not keep every run's data; a broker the run started goes with its working area."""
    try:
        yield
    finally:
        if os.environ.get("CRIMELINK_BENCH_BOOTSTRAP"):
            try:
                delete_topics(bootstrap, prefixes)
            except BrokerError as error:  # say so, but do not hide why the run itself failed
                print(f"the run's topics ({', '.join(prefixes)}*) are still on the broker: {error}", file=sys.stderr)


@contextmanager
def local_broker(workdir: Path, secure: bool = False) -> Iterator[Broker]:
    """The broker named by CRIMELINK_BENCH_BOOTSTRAP (logged in to as the CRIMELINK_KAFKA_* variables say: protocol,
    SASL login, CA file), or a one-partition local one for the run, secured as ``crimelink broker start --secure``
    makes it (SASL_SSL, SCRAM, ACLs) with ``secure``; yields its address, or its login when it needs one."""
    bootstrap = os.environ.get("CRIMELINK_BENCH_BOOTSTRAP")
    if bootstrap:
        named = KafkaSettings(bootstrap=bootstrap)
        yield bootstrap if named.security_protocol == "PLAINTEXT" else named
        return
    broker = LocalBroker(libs=fetch_broker(REPO / ".crimelink" / "kafka" / "dist"), data_dir=workdir / "kafka",
                         partitions=1, secure=secure)
    broker.start()
    try:
        yield KafkaSettings(**broker.client(SERVICE_USER)) if secure else broker.bootstrap
    finally:
        broker.stop()


@contextmanager
def local_cluster(workdir: Path, size: int = 3) -> Iterator[LocalCluster]:
    """A local KRaft cluster of ``size`` nodes for the run (one partition per topic); yields it, so nodes can be
    killed and started again."""
    cluster = LocalCluster(libs=fetch_broker(REPO / ".crimelink" / "kafka" / "dist"), data_dir=workdir / "cluster",
                           size=size, partitions=1)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def start_worker(settings: Settings, home: Path, app_id: str, **extra_env: str) -> tuple[WorkerProcess, Settings]:
    """A worker on ``settings``' topics (one partition) with its own embedded ClickHouse under ``home``;
    returns it with the settings that query its store."""
    web_port = free_port()
    dsn = f"chdb://{home / 'clickhouse'}"
    token = UserRegistry(home / "users.json").add("bench", Role.ANALYST, replace=True)
    env = {**os.environ, "CRIMELINK_HOME": str(home), **login_environment(settings.effective_kafka),
           "CRIMELINK_TOPIC_PREFIX": settings.kafka.topic_prefix, "CRIMELINK_TOPIC_PARTITIONS": "1",
           "CRIMELINK_APP_ID": app_id, "CRIMELINK_WEB_PORT": str(web_port), "CRIMELINK_CLICKHOUSE_DSN": dsn, **extra_env}
    worker = WorkerProcess(env, home / "worker.log", f"http://127.0.0.1:{web_port}")
    worker.start()
    return worker, settings.replace(web={"port": web_port}, clickhouse={"dsn": dsn},
                                    client={"token": SecretStr(token), "justification": "benchmark"})
