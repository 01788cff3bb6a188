"""A three-node local Kafka cluster (``crimelink broker start --brokers 3``) and the pipeline through the loss of a
broker, of the active controller, and of the worker with its intake worker at once (``bench/chaos.py``, short: one
kill of each; the long runs are the benchmark's, their figures in docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.chaos import run_once
from crimelink.cli.broker import LocalCluster, fetch_broker
from crimelink.streams.kafka_io import replication_of
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _crimelink(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CRIMELINK_")}
    return subprocess.run([sys.executable, "-m", "crimelink.cli", *args], env={**env, "CRIMELINK_HOME": str(home)},
                          capture_output=True, text=True, timeout=180, check=False, cwd=REPO)


@pytest.fixture(scope="module")
def cluster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A working area whose local broker is a cluster of three, started and stopped with the CLI."""
    home = tmp_path_factory.mktemp("cluster-home")
    dist = REPO / ".crimelink" / "kafka" / "dist"
    fetch_broker(dist)  # once per machine, as the other broker fixtures do
    (home / "kafka").mkdir(mode=0o700)
    (home / "kafka" / "dist").symlink_to(dist)
    started = _crimelink(home, "broker", "start", "--brokers", "3")
    assert started.returncode == 0, started.stderr
    try:
        yield home
    finally:
        stopped = _crimelink(home, "broker", "stop")
        assert "cluster of 3 stopped" in stopped.stdout, stopped.stdout + stopped.stderr


@pytest.fixture(scope="module")
def cluster(cluster_home: Path) -> LocalCluster:
    return LocalCluster(libs=fetch_broker(cluster_home / "kafka" / "dist"), data_dir=cluster_home / "kafka" / "cluster")


def test_the_cli_starts_three_nodes_and_the_topics_it_declares_keep_three_copies(
        cluster_home: Path, cluster: LocalCluster) -> None:
    status = _crimelink(cluster_home, "broker", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("answers") == 3
    recorded = json.loads((cluster_home / "kafka" / "broker.json").read_text())
    assert recorded["bootstrap"] == cluster.bootstrap and recorded["bootstrap"].count(",") == 2
    declared = _crimelink(cluster_home, "topics")  # the recorded cluster, its replication from the same record
    assert declared.returncode == 0, declared.stderr
    kept = replication_of(cluster.bootstrap, ["crimelink."])
    assert kept and set(kept.values()) == {(3, 2)}, kept


def test_status_says_when_a_node_does_not_answer(cluster_home: Path, cluster: LocalCluster) -> None:
    victim = next(node.node_id for node in cluster.nodes if node.node_id != cluster.quorum_leader())
    cluster.kill(victim)
    try:
        status = _crimelink(cluster_home, "broker", "status")
        assert status.returncode == 1
        assert f"node {victim}" in status.stdout and "DOES NOT ANSWER" in status.stdout
    finally:
        cluster.start_node(victim)
    assert _crimelink(cluster_home, "broker", "status").returncode == 0


def test_losing_a_broker_the_controller_or_a_machine_loses_doubles_and_repeats_nothing(
        cluster: LocalCluster, tmp_path: Path) -> None:
    result = run_once(cluster.bootstrap, tmp_path, seed=9, kills=1, rate=40.0, settle=150.0,
                      victims=("broker", "controller", "worker+intake"), cluster=cluster)
    print(f"\n{result}")
    assert result["records"] > 300
    assert result["not_accepted_by_the_broker"] == 0  # with two of three in sync, every write was confirmed
    assert result["lost_incidents"] == 0 and result["lost_dead_letters"] == 0, result["lost_examples"]
    assert result["doubled_in_incidents_latest"] == 0
    assert result["feedback_stored_twice"] == 0
    assert result["repeated_alerts"] == 0
    assert result["updates_not_applied"] == 0
    assert result["topics_fewest_copies"] == 3 and result["topics_fewest_min_insync"] == 2
    assert result["changelogs"] >= 2  # Faust made the gate's and the correlator's with three copies too
    for victim in ("broker", "controller", "worker_and_intake"):
        assert result[f"resumed_after_{victim}_kill_s"]["count"] == 1
        assert result[f"resumed_after_{victim}_kill_s"]["max"] < 120
