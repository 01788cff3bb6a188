"""The local Apache Kafka broker: fetched from Maven Central, run in KRaft mode on loopback.

Used by the demo and the test suite so that a fresh machine with Java and Maven needs
nothing else. Production points ``CRIMELINK_KAFKA_BOOTSTRAP`` at a real cluster instead.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from crimelink.errors import BrokerFetchError, BrokerStartError

__all__ = ["kafka_version", "DEPLOY_DIR", "LocalBroker", "fetch_broker", "free_port"]

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


@dataclass
class LocalBroker:
    """One single-node KRaft broker; ``start`` formats fresh storage unless it exists already."""

    libs: Path
    data_dir: Path
    port: int = 0
    controller_port: int = 0
    partitions: int = 4
    heap: str = "512m"
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def _java(self, *args: str) -> list[str]:
        java = shutil.which("java") or "java"
        return [java, "-cp", f"{self.libs}/*", *args]

    def _write_config(self) -> Path:
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        template = (DEPLOY_DIR / "server.properties.template").read_text()
        config = self.data_dir / "server.properties"
        config.write_text(
            template.format(
                port=self.port,
                controller_port=self.controller_port,
                log_dir=self.data_dir / "log",
                partitions=self.partitions,
            )
        )
        return config

    def start(self, timeout: float = 60.0) -> None:
        """Format storage if new, start the broker and return once it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        if not (self.data_dir / "log" / "meta.properties").exists():
            formatted = subprocess.run(
                self._java("kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id()}", "-c", str(config)),
                capture_output=True, text=True, check=False,
            )
            if formatted.returncode != 0:
                raise BrokerStartError(f"formatting broker storage failed: {formatted.stdout}{formatted.stderr}")
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
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerStartError(
                    f"broker exited with {self.process.returncode}; last log lines:\n{self._log_tail()}"
                )
            if "Kafka Server started" in self._log_tail() and _accepts(self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise BrokerStartError(f"broker not ready after {timeout:.0f}s; last log lines:\n{self._log_tail()}")

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
