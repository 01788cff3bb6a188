"""Benchmarks are not timed tests: CI runs them at a tiny size only to check that they still work, and that they
leave no topics on a broker they were pointed at."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from crimelink.cli.broker import SERVICE_USER, LocalBroker
from crimelink.settings import KafkaSettings
from crimelink.streams.kafka_auth import Broker, client_options

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _topics(bootstrap: Broker) -> set[str]:
    admin = KafkaAdminClient(**client_options(bootstrap))
    try:
        # Kafka's own (__consumer_offsets appears with the first consumer group), and the bare Faust app's leader topic
        return {name for name in admin.list_topics() if not name.startswith(("__", "bare-"))}
    finally:
        admin.close()


def test_throughput_benchmark_runs_at_a_tiny_size(kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    env = {**os.environ, "CRIMELINK_BENCH_BOOTSTRAP": kafka_bootstrap}
    before = _topics(kafka_bootstrap)
    subprocess.run([sys.executable, "-m", "bench.throughput", "--count", "200", "--json", str(out)], cwd=REPO, env=env,
                   check=True, timeout=300, capture_output=True)
    assert _topics(kafka_bootstrap) == before
    results = json.loads(out.read_text())
    assert results["count"] == 200
    for key in ("aiokafka_getmany_per_s", "bare_faust_per_s", "crimelink_end_to_end_per_s",
                "crimelink_worker_peak_rss_mib"):
        assert results[key] > 0, key
    assert "ratio_to_bare_faust" in results  # meaningless at this size; printed for the real runs


def test_throughput_benchmark_logs_in_to_a_secured_broker(secure_broker: LocalBroker, tmp_path: Path) -> None:
    """Every client it runs (its producer, the aiokafka reader, both bare Faust apps, the worker) must log in: the
    broker takes TLS and SCRAM logins only, so any one left on a bare address would stop the run."""
    login = KafkaSettings(**secure_broker.client(SERVICE_USER))
    out = tmp_path / "throughput.json"
    env = {**os.environ, **login.login_environment(), "CRIMELINK_BENCH_BOOTSTRAP": login.bootstrap}
    before = _topics(login)
    run = subprocess.run([sys.executable, "-m", "bench.throughput", "--count", "200", "--json", str(out)], cwd=REPO,
                         env=env, timeout=300, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _topics(login) == before
    results = json.loads(out.read_text())
    assert results["kafka_security_protocol"] == "SASL_SSL"
    assert results["bare_faust_per_s"] > 0 and results["crimelink_end_to_end_per_s"] > 0


def test_latency_benchmark_runs_at_a_tiny_size(kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    env = {**os.environ, "CRIMELINK_BENCH_BOOTSTRAP": kafka_bootstrap}
    before = _topics(kafka_bootstrap)
    subprocess.run([sys.executable, "-m", "bench.latency", "--rates", "100", "--seconds", "3", "--settle", "120",
                    "--json", str(out)], cwd=REPO, env=env, check=True, timeout=400, capture_output=True)
    assert _topics(kafka_bootstrap) == before
    (result,) = json.loads(out.read_text())
    assert result["incidents"] == 300 and result["incidents_stored"] > 0
    assert result["produce_to_row"]["n"] > 0 and result["produce_to_row"]["p50_ms"] > 0


def test_gateway_benchmark_runs_at_a_tiny_size(kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "gateway.json"
    env = {**os.environ, "CRIMELINK_BENCH_BOOTSTRAP": kafka_bootstrap}
    before = _topics(kafka_bootstrap)
    subprocess.run([sys.executable, "-m", "bench.gateway", "--count", "300", "--batch", "50", "--clients", "2",
                    "--json", str(out)], cwd=REPO, env=env, check=True, timeout=300, capture_output=True)
    assert _topics(kafka_bootstrap) == before
    results = json.loads(out.read_text())
    [run] = results["gateway"]
    # every record answered: accepted, rejected, or (an unreadable one sent alone) a 400 of its own
    assert sum(run["outcomes"].values()) == 300 and run["outcomes"]["accepted"] > 250
    assert run["records_per_s"] > 0 and run["batch_p99_ms"] >= run["batch_p50_ms"] > 0
    assert results["ingest"]["records_per_s"] > 0
