"""The local Apache Kafka broker: fetched from Maven Central, run in KRaft mode on loopback.

Used by the demo and the test suite so that a fresh machine with Java and Maven needs
nothing else. Production points ``CRIMELINK_KAFKA_BOOTSTRAP`` at a real cluster instead.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from crimelink.cli.certificates import issue, write_private
from crimelink.errors import BrokerFetchError, BrokerStartError

__all__ = ["kafka_version", "DEPLOY_DIR", "LocalBroker", "LocalCluster", "fetch_broker", "free_port", "in_sync_for",
           "SERVICE_USER", "IDLE_USER"]

SERVICE_USER = "crimelink"
"""The principal every crimelink process logs in as on a secured local broker (ACLs on topics, groups, ids)."""
IDLE_USER = "nobody"
"""A principal with a valid login and no ACL at all: what an authenticated outsider can do (nothing)."""
_USERS = ("admin", SERVICE_USER, IDLE_USER)

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "kafka"  # the repository's deploy/: not installed
POM = DEPLOY_DIR / "pom.xml"


@lru_cache(maxsize=1)
def kafka_version() -> str:
    """The Kafka version the pom pins."""
    try:
        text = POM.read_text()
    except FileNotFoundError:
        raise BrokerFetchError(f"the local broker is built from {POM}, which is not here: run the broker commands "
                               "from a checkout of the crimelink repository, or set CRIMELINK_KAFKA_BOOTSTRAP to a "
                               "broker of your own") from None
    start = text.index("<kafka.version>") + len("<kafka.version>")
    return text[start : text.index("</kafka.version>")]


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it), so parallel runs do not collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch_broker(cache_dir: Path, *, quiet: bool = True) -> Path:
    """Resolve the broker's jars into ``cache_dir/<version>/libs``; a no-op when already there.

    The cache is keyed by the pom's hash, so changing the pinned version fetches afresh.
    """
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    target = cache_dir.resolve() / f"{kafka_version()}-{digest}"
    libs = target / "libs"
    marker = target / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerFetchError("Maven (mvn) is not on PATH; install Maven 3.8+ to fetch the Kafka broker")
    if shutil.which("java") is None:
        raise BrokerFetchError("java is not on PATH; install Java 17+ to run the Kafka broker")
    if libs.exists():
        shutil.rmtree(libs)
    target.mkdir(parents=True, exist_ok=True)
    command = [
        mvn, "-B", "-f", str(POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}", "-DincludeScope=runtime",
    ]
    if quiet:
        command.insert(2, "-q")
    result = subprocess.run(command, capture_output=quiet, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stdout or "")[-2000:] + (result.stderr or "")[-2000:]
        raise BrokerFetchError(f"mvn could not resolve Kafka {kafka_version()} (exit {result.returncode}):\n{tail}")
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise BrokerFetchError(f"mvn finished but no kafka jar is in {libs}")
    marker.write_text(kafka_version())
    return libs


def in_sync_for(replication: int) -> int:
    """``min.insync.replicas`` for ``replication`` copies: all but one, and at most 2 (2 of 3), so a confirmed write
    survives one broker lost and writes go on while one is down."""
    return max(1, min(2, replication - 1))


@dataclass
class LocalBroker:
    """One KRaft node (broker and controller in one process); alone unless ``quorum`` names the cluster's
    controllers (:class:`LocalCluster`). ``start`` formats fresh storage unless it exists already."""

    libs: Path
    data_dir: Path
    port: int = 0
    controller_port: int = 0
    partitions: int = 4
    heap: str = "512m"
    secure: bool = False
    process: subprocess.Popen[bytes] | None = None
    node_id: int = 1
    quorum: str = ""  # controller.quorum.voters of a cluster: "1@127.0.0.1:<port>,2@..."; empty: this node alone
    replication: int = 1  # copies of the broker's own topics (consumer offsets), and the default for new ones
    cluster_id: str = ""  # one for every node of a cluster; empty: a new one when storage is formatted
    _log_start: int = field(default=0, init=False, repr=False)  # the log's size when this process was launched

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    def answers(self) -> bool:
        """Whether the broker accepts connections on its port."""
        return _accepts(self.port)

    def passwords(self) -> dict[str, str]:
        """Each local principal's password, made on the first secured start (``credentials.json``, 0600)."""
        stored = self.data_dir / "credentials.json"
        if not stored.exists():
            write_private(stored, json.dumps({user: secrets.token_urlsafe(24) for user in _USERS}))
        return dict(json.loads(stored.read_text()))

    def add_retailer(self, retailer: str, topic_prefix: str = "crimelink.") -> str:
        """Give ``retailer`` a login of its own on this (secured, running) broker, allowed to write its channel and
        nothing else; its password is kept with the others. Returns the user name (:meth:`client` logs in as it)."""
        from crimelink.settings import KafkaSettings
        from crimelink.streams.kafka_io import grant_retailer_channel, retailer_user
        from crimelink.streams.topics import RetailerChannel

        if not self.secure:
            raise BrokerStartError("a retailer's own login needs the secured broker (broker start --secure)")
        user = retailer_user(retailer)
        passwords = self.passwords()
        password = passwords.setdefault(user, secrets.token_urlsafe(24))
        write_private(self.data_dir / "credentials.json", json.dumps(passwords))
        return grant_retailer_channel(KafkaSettings(**self.client("admin")), RetailerChannel.prefix_of(topic_prefix, retailer),
                                      retailer, password)

    def client(self, user: str = SERVICE_USER) -> dict[str, Any]:
        """The Kafka settings' fields a client needs to log in as ``user`` (PLAINTEXT when not secured)."""
        if not self.secure:
            return {"bootstrap": self.bootstrap, "security_protocol": "PLAINTEXT"}
        return {"bootstrap": self.bootstrap, "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                "username": user, "password": self.passwords()[user], "ca_file": str(self.ca_file)}

    def _java(self, *args: str) -> list[str]:
        java = shutil.which("java") or "java"
        return [java, "-cp", f"{self.libs}/*", *args]

    def _write_config(self) -> Path:
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        fields: dict[str, Any] = {"port": self.port, "controller_port": self.controller_port,
                                  "log_dir": self.data_dir / "log", "partitions": self.partitions,
                                  "node_id": self.node_id,
                                  "voters": self.quorum or f"{self.node_id}@127.0.0.1:{self.controller_port}",
                                  "replication": self.replication, "min_insync": in_sync_for(self.replication)}
        name = "server.properties.template"
        if self.secure:
            name = "server-secure.properties.template"
            _make_tls(self.tls_dir)
            fields |= {"admin_password": self.passwords()["admin"], "keystore": self.tls_dir / "broker.pem",
                       "ca_file": self.ca_file}
        config = self.data_dir / "server.properties"
        write_private(config, (DEPLOY_DIR / name).read_text().format(**fields))
        return config

    def _format_options(self) -> list[str]:
        """SCRAM logins are written into the metadata when storage is formatted (KRaft has no ZooKeeper to hold them)."""
        if not self.secure:
            return []
        return [option for user, password in self.passwords().items()
                for option in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]")]

    def start(self, timeout: float = 60.0) -> None:
        """Format storage if new, start the broker and return once it accepts connections."""
        self.launch()
        self.wait_started(timeout)

    def launch(self) -> None:
        """Format storage if new and start the broker's process, without waiting: a node of a cluster is ready only
        once a majority of the controllers runs."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        if not (self.data_dir / "log" / "meta.properties").exists():
            formatted = subprocess.run(
                self._java("kafka.tools.StorageTool", "format", f"--cluster-id={self.cluster_id or _cluster_id()}",
                           "-c", str(config), *self._format_options()),
                capture_output=True, text=True, check=False,
            )
            if formatted.returncode != 0:
                raise BrokerStartError(f"formatting broker storage failed: {formatted.stdout}{formatted.stderr}")
        self._log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            self._java(
                f"-Xmx{self.heap}", "-XX:+UseSerialGC",
                f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'log4j2.yaml'}",
                "kafka.Kafka", str(config),
            ),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.pid_file.write_text(str(self.process.pid))

    def wait_started(self, timeout: float = 60.0) -> None:
        """Return once the broker launched accepts connections (and, secured, has granted the service its ACLs)."""
        self._wait_ready(timeout)
        if self.secure:
            from crimelink.settings import KafkaSettings
            from crimelink.streams.kafka_io import grant_service_acls

            grant_service_acls(KafkaSettings(**self.client("admin")), f"User:{SERVICE_USER}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerStartError(
                    f"broker exited with {self.process.returncode}; last log lines:\n{self._log_tail()}"
                )
            if "Kafka Server started" in self._log_since_launch() and _accepts(self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise BrokerStartError(f"broker not ready after {timeout:.0f}s; last log lines:\n{self._log_tail()}")

    def _log_since_launch(self) -> str:
        """The log written since this process was launched (a restarted node's log holds its earlier runs too)."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the broker by PID: SIGTERM for a clean shutdown, SIGKILL if it hangs."""
        pid = self.process.pid if self.process else _read_pid(self.pid_file)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid, self.process):
            time.sleep(0.1)
        if _alive(pid, self.process):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            if self.process is not None:
                self.process.wait(5)
        self.pid_file.unlink(missing_ok=True)
        self.process = None


@dataclass
class LocalCluster:
    """``size`` KRaft nodes on loopback, each broker and controller, each with its own ports and data directory
    (``<data_dir>/node-<n>``), formatted with one cluster id. The ports and the id are kept in
    ``<data_dir>/cluster.json``, so the cluster restarts on the same addresses and a node killed comes back as itself.
    Plain only: a secured cluster needs one CA for every node and is not built yet."""

    libs: Path
    data_dir: Path
    size: int = 3
    partitions: int = 4
    heap: str = "384m"
    nodes: list[LocalBroker] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise BrokerStartError(f"a cluster needs at least one node, not {self.size}")
        layout = self.data_dir / "cluster.json"
        if layout.exists():
            recorded = json.loads(layout.read_text())
        else:
            recorded = {"cluster_id": _cluster_id(),
                        "nodes": [{"node_id": n, "port": free_port(), "controller_port": free_port()}
                                  for n in range(1, self.size + 1)]}
            write_private(layout, json.dumps(recorded))
        quorum = ",".join(f"{node['node_id']}@127.0.0.1:{node['controller_port']}" for node in recorded["nodes"])
        self.nodes = [LocalBroker(libs=self.libs, data_dir=self.data_dir / f"node-{node['node_id']}", port=node["port"],
                                  controller_port=node["controller_port"], partitions=self.partitions, heap=self.heap,
                                  node_id=node["node_id"], quorum=quorum, replication=min(3, len(recorded["nodes"])),
                                  cluster_id=recorded["cluster_id"])
                      for node in recorded["nodes"]]
        self.size = len(self.nodes)

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def replication(self) -> int:
        return self.nodes[0].replication

    def client(self) -> dict[str, Any]:
        """The Kafka settings' fields a client of this cluster needs: its address and the replication of what it
        creates (:func:`in_sync_for`)."""
        return {"bootstrap": self.bootstrap, "security_protocol": "PLAINTEXT", "replication_factor": self.replication,
                "min_insync_replicas": in_sync_for(self.replication)}

    def node(self, node_id: int) -> LocalBroker:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise BrokerStartError(f"the cluster has no node {node_id} (nodes {[node.node_id for node in self.nodes]})")

    def start(self, timeout: float = 90.0) -> None:
        """Start every node, then wait for each: no node is ready before a majority of the controllers runs."""
        for node in self.nodes:
            node.launch()
        try:
            for node in self.nodes:
                node.wait_started(timeout)
        except BrokerStartError:
            self.stop()
            raise

    def start_node(self, node_id: int, timeout: float = 90.0) -> None:
        """Start one node again (after :meth:`kill`); it catches up from the others."""
        node = self.node(node_id)
        node.launch()
        node.wait_started(timeout)

    def kill(self, node_id: int) -> None:
        """SIGKILL one node, as a machine lost: no clean shutdown, no leadership handed over."""
        node = self.node(node_id)
        pid = node.process.pid if node.process else _read_pid(node.pid_file)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            if node.process is not None:
                node.process.wait(10)
            node.pid_file.unlink(missing_ok=True)
        node.process = None

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def status(self) -> list[dict[str, Any]]:
        """Each node's id, address, pid and whether it answers."""
        return [{"node_id": node.node_id, "bootstrap": node.bootstrap, "pid": _read_pid(node.pid_file),
                 "answers": node.answers()} for node in self.nodes]

    def quorum_leader(self, timeout: float = 30.0) -> int:
        """The node id of the active controller (the KRaft quorum's leader): of the nodes running, the leader named
        with the latest epoch in their ``quorum-state`` files, which each voter rewrites at every election."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            known: list[tuple[int, int]] = []
            for node in self.nodes:
                if not node.answers():
                    continue
                with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
                    state = json.loads((node.data_dir / "log" / "__cluster_metadata-0" / "quorum-state").read_text())
                    if int(state["leaderId"]) > 0:
                        known.append((int(state["leaderEpoch"]), int(state["leaderId"])))
            if known:
                return max(known)[1]
            time.sleep(0.2)
        raise BrokerStartError(f"no node named a quorum leader within {timeout:.0f}s")


def _make_tls(tls_dir: Path) -> None:
    """A CA and a broker certificate for 127.0.0.1 and localhost, made once (kept across restarts, so clients that
    trust ``ca.pem`` keep trusting the broker). The keys never leave ``tls_dir`` (0700, files 0600)."""
    if (tls_dir / "broker.pem").exists():
        return
    issued = issue("crimelink local broker CA", ["127.0.0.1", "localhost"])
    write_private(tls_dir / "ca.pem", issued.ca)
    write_private(tls_dir / "broker.pem", issued.key + issued.certificate + issued.ca)


def _cluster_id() -> str:
    """Kafka wants a base64url-encoded UUID without padding. One in 64 begins with "-", which the storage tool reads as
    an option unless it is given as ``--cluster-id=...``."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int, process: subprocess.Popen[bytes] | None) -> bool:
    if process is not None:
        return process.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
