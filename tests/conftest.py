"""Shared fixtures: the real Kafka broker (started once per run) and crimelink workers on it.

Set CRIMELINK_TEST_BOOTSTRAP=host:port to run against a broker you started yourself. A test marked ``both_brokers``
runs twice: on the plain broker and on a secured one (SASL_SSL, SCRAM logins, ACLs on), started once on first use.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer

from crimelink.access.principals import Role
from crimelink.access.users import UserRegistry
from crimelink.cli.broker import SERVICE_USER, LocalBroker, fetch_broker, free_port
from crimelink.cli.query_client import run_query
from crimelink.cli.worker_process import WorkerProcess
from crimelink.settings import ClickHouseSettings, ClientSettings, KafkaSettings, Settings, WebSettings
from crimelink.sinks.clickhouse import ClickHouseStore, QueryResult
from crimelink.streams.kafka_auth import Broker, client_options, login_environment
from crimelink.streams.kafka_io import declare_topics
from crimelink.streams.topics import TopicNames

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("CRIMELINK_TEST_BOOTSTRAP")
    if external:
        yield external
        return
    libs = fetch_broker(REPO / ".crimelink" / "kafka" / "dist")
    broker = LocalBroker(libs=libs, data_dir=tmp_path_factory.mktemp("kafka"), partitions=2)
    started = time.monotonic()
    broker.start()
    print(f"\nKafka broker ready at {broker.bootstrap} in {time.monotonic() - started:.1f}s")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """A second local broker, secured as ``crimelink broker start --secure`` makes it."""
    libs = fetch_broker(REPO / ".crimelink" / "kafka" / "dist")
    broker = LocalBroker(libs=libs, data_dir=tmp_path_factory.mktemp("kafka-secure"), partitions=2, secure=True)
    started = time.monotonic()
    broker.start()
    print(f"\nsecured Kafka broker ready at {broker.bootstrap} in {time.monotonic() - started:.1f}s")
    try:
        yield broker
    finally:
        broker.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kafka_broker" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_brokers"):
        metafunc.parametrize("kafka_broker", ["plain", "secure"], indirect=True)


@pytest.fixture
def kafka_broker(request: pytest.FixtureRequest) -> Broker:
    """The plain broker's address, or (``both_brokers`` tests, second run) the secured broker's service login."""
    if getattr(request, "param", "plain") == "plain":
        return str(request.getfixturevalue("kafka_bootstrap"))
    return KafkaSettings(**request.getfixturevalue("secure_broker").client(SERVICE_USER))


class RunningWorker:
    """A real ``crimelink worker`` process on its own topics, app id and embedded ClickHouse."""

    def __init__(self, bootstrap: Broker, home: Path, **overrides: str) -> None:
        token = uuid.uuid4().hex[:8]
        self.home = home
        self.bootstrap_address = bootstrap
        self.web_port = free_port()
        self.tokens = _add_test_users(home)
        self.env = {
            **os.environ,
            "CRIMELINK_HOME": str(home),
            **login_environment(bootstrap),
            "CRIMELINK_TOPIC_PREFIX": f"t{token}.",
            "CRIMELINK_APP_ID": f"crimelink-test-{token}",
            "CRIMELINK_WEB_PORT": str(self.web_port),
            "CRIMELINK_CLICKHOUSE_DSN": f"chdb://{home / 'clickhouse'}",
            "CRIMELINK_TOPIC_PARTITIONS": "2",
            "CRIMELINK_SINK_FLUSH_SECONDS": "0.2",
            # what a client command run by the test analyst sends (the worker itself reads neither)
            "CRIMELINK_TOKEN": self.tokens["analyst"],
            "CRIMELINK_JUSTIFICATION": "pytest: checking the pipeline",
            **overrides,
        }
        self.settings = self.as_user("analyst")
        self.topics = TopicNames(self.settings)
        self.bootstrap = bootstrap
        self.process = self._process()

    def _process(self) -> WorkerProcess:
        certificate = self.env.get("CRIMELINK_WEB_TLS_CERT")
        scheme, host = ("https", "localhost") if certificate else ("http", "127.0.0.1")
        return WorkerProcess(self.env, self.home / "worker.log", f"{scheme}://{host}:{self.web_port}",
                             ca_file=Path(certificate) if certificate else None)

    def as_user(self, name: str, justification: str = "pytest: checking the pipeline") -> Settings:
        """Settings of a client command run by one of the test users (analyst, admin, kent-liaison, quikmart-dev)."""
        return Settings(
            home=self.home, kafka=(self.bootstrap_address if isinstance(self.bootstrap_address, KafkaSettings)
                                   else KafkaSettings(bootstrap=self.bootstrap_address)).model_copy(
                update={"topic_prefix": self.env["CRIMELINK_TOPIC_PREFIX"],
                        "retailer_channels": sorted(filter(None, self.env.get("CRIMELINK_KAFKA_RETAILER_CHANNELS",
                                                                              "").split(",")))}),
            web=WebSettings(port=self.web_port), clickhouse=ClickHouseSettings(dsn=self.env["CRIMELINK_CLICKHOUSE_DSN"]),
            client=ClientSettings(token=self.tokens[name], justification=justification),
        )

    def start(self) -> RunningWorker:
        declare_topics(self.bootstrap, self.topics.all(), int(self.env["CRIMELINK_TOPIC_PARTITIONS"]),
                       self.topics.partitions, self.topics.configs, self.topics.replication)
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    def restart(self, **overrides: str) -> RunningWorker:
        """Stop and start again with the same app id, topics and store (and any settings changed by ``overrides``):
        state must come back from Kafka."""
        self.process.stop()
        self.env = {**self.env, **overrides}
        self.process = self._process()
        self.process.start()
        return self

    def query(self, sql: str, **parameters: Any) -> QueryResult:
        return run_query(sql, parameters, self.settings)

    def scalar(self, sql: str, **parameters: Any) -> Any:
        return self.query(sql, **parameters).rows[0][0]

    def log(self) -> str:
        return (self.home / "worker.log").read_text(errors="replace")


TEST_USERS = {"analyst": (Role.ANALYST, {}), "admin": (Role.ADMIN, {}),
              "kent-liaison": (Role.FORCE, {"forces": ["kent"]}), "durham-liaison": (Role.FORCE, {"forces": ["durham"]}),
              "quikmart-dev": (Role.RETAILER, {"retailers": ["quikmart"]})}


def _add_test_users(home: Path) -> dict[str, str]:
    """One user of each role in the worker's users file; their tokens."""
    registry = UserRegistry(home / "users.json")
    return {name: registry.add(name, role, replace=True, **scope) for name, (role, scope) in TEST_USERS.items()}


class RunningGateway:
    """A real ``crimelink gateway`` process beside a running worker: its broker, topics, users file and web API."""

    def __init__(self, worker: RunningWorker, **overrides: str) -> None:
        self.worker = worker
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**worker.env, "CRIMELINK_GATEWAY_PORT": str(self.port),
                    "CRIMELINK_GATEWAY_WORKER_URL": f"http://127.0.0.1:{worker.web_port}", **overrides}
        self.process = WorkerProcess(self.env, worker.home / f"gateway-{self.port}.log", self.url,
                                     command=("gateway", "--loglevel", "info"))
        registry = UserRegistry(worker.home / "users.json")
        for retailer in ("northway", "tillco"):  # once per worker: a second gateway shares the users
            if f"{retailer}-dev" not in worker.tokens:
                worker.tokens[f"{retailer}-dev"] = registry.add(f"{retailer}-dev", Role.RETAILER, retailers=[retailer],
                                                                replace=True)
        self.tokens = {"quikmart": worker.tokens["quikmart-dev"], "northway": worker.tokens["northway-dev"],
                       "tillco": worker.tokens["tillco-dev"], "analyst": worker.tokens["analyst"]}

    def headers(self, retailer: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[retailer]}", **extra}

    def start(self) -> RunningGateway:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    def log(self) -> str:
        return self.process.log_file.read_text(errors="replace")


@pytest.fixture
def start_gateway() -> Iterator[Callable[..., RunningGateway]]:
    gateways: list[RunningGateway] = []

    def start(worker: RunningWorker, **overrides: str) -> RunningGateway:
        gateway = RunningGateway(worker, **overrides)
        gateways.append(gateway)
        return gateway.start()

    yield start
    for gateway in gateways:
        gateway.stop()


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # chDB allows one data directory per process: every in-process test shares this one.
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def store(chdb_dir: Path) -> Iterator[ClickHouseStore]:
    opened = ClickHouseStore(f"chdb://{chdb_dir}", f"test_{uuid.uuid4().hex[:10]}")
    opened.setup()
    yield opened
    opened.command(f"DROP DATABASE IF EXISTS `{opened.database}`")
    opened.close()


@pytest.fixture
def start_worker(kafka_broker: Broker, tmp_path: Path) -> Iterator[Callable[..., RunningWorker]]:
    workers: list[RunningWorker] = []

    def start(home: Path | None = None, **overrides: str) -> RunningWorker:
        worker = RunningWorker(kafka_broker, home or tmp_path / f"worker{len(workers)}", **overrides)
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()


def read_records(bootstrap: Broker, topic: str) -> list[tuple[bytes | None, bytes, int]]:
    """Every record of a topic as (key, value, partition), read from the start until none arrives for 3 s."""
    consumer = KafkaConsumer(topic, **client_options(bootstrap), auto_offset_reset="earliest", enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=3000)
    try:
        return [(message.key, message.value, message.partition) for message in consumer]
    finally:
        consumer.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.3, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}; last value {last!r}")


def grocer_record(**changes: Any) -> dict[str, Any]:
    """A complete, valid national_grocer record; keyword arguments replace top-level fields."""
    record: dict[str, Any] = {
        "schema": "ng-incident/2",
        "retailer": "northway",
        "incident": {"id": "NW-2025-TEST-1", "revision": 1, "reported_at": "2025-03-01T10:22:00Z"},
        "store": {"id": "NW0005"},
        "occurred": {"from": "2025-03-01T09:40:00+00:00", "to": "2025-03-01T09:55:00+00:00"},
        "loss": {"lines": [
            {"category": "ALC", "description": "Whisky 70cl", "qty": 4, "unit_price_pence": 2500},
            {"category": "RZR", "description": "Razor blades 8pk", "qty": 2, "unit_price_pence": 2800},
        ]},
        "tactics": ["DST01", "TMS01"],
        "offenders": {"count": 2, "descriptions": [
            {"gender": "male", "build": "slim", "complexion": "pale", "eye_colour": "blue", "features": ["neck tattoo"]},
        ]},
        "vehicles": [{"vrm": "ab12 cde", "make": "ford", "model": "Focus", "colour": "Silver"}],
        "flags": {"violence": False, "threats": True, "weapon": False},
        "cctv": True,
        "police": {"crime_reference": "SX/12345678/25"},
        "narrative": "Two males; one kept lookout while the other swept the shelf into a foil-lined bag.",
    }
    record.update(changes)
    return record


class CountingReads(dict[str, Any]):
    """A state mapping (a table in the worker) that counts how often all its entries are read: iterated, or its
    values or items taken."""

    whole_reads = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.whole_reads += 1
        return super().__iter__()

    def values(self):  # type: ignore[no-untyped-def]
        self.whole_reads += 1
        return super().values()

    def items(self):  # type: ignore[no-untyped-def]
        self.whole_reads += 1
        return super().items()


def checked_incident(**changes: Any) -> dict[str, Any]:
    """A grocer record normalised and gated, as the ClickHouse sink reads it from the checked-incidents topic."""
    from crimelink.intake.normalise import Normaliser, RawRecord
    from crimelink.intake.stores import StoreRegistry
    from crimelink.referral.gate import apply_gate
    from crimelink.schemas.incident import Incident

    result = Normaliser(StoreRegistry.load()).normalise(
        RawRecord("national_grocer", json.dumps(grocer_record(**changes)).encode(), "raw", 0, 7, now_utc())
    )
    assert isinstance(result, Incident), result
    return json.loads(apply_gate(result).model_dump_json())


def now_utc() -> datetime:
    return datetime.now(UTC)
