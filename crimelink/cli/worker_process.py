"""Run ``crimelink worker`` (or ``crimelink gateway``) as a child process and wait until its web server answers (demo,
tests, benchmarks)."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from crimelink.errors import CrimelinkError

__all__ = ["WorkerProcess"]


class WorkerProcess:
    """A ``crimelink worker`` child process with its own environment (``command``: another crimelink command that
    serves ``/healthz``, such as the gateway)."""

    def __init__(self, env: dict[str, str], log_file: Path, web_url: str, *, ca_file: Path | None = None,
                 command: tuple[str, ...] = ("worker", "--loglevel", "info")) -> None:
        self.env = env
        self.command = command
        self.log_file = log_file
        self.web_url = web_url
        self._context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crimelink.cli", *self.command],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CrimelinkError(f"{self.command[0]} exited with {self.process.returncode}; see {self.log_file}:\n"
                                     + self.log_file.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(f"{self.web_url}/healthz", timeout=2, context=self._context):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise CrimelinkError(f"{self.command[0]} not ready after {timeout:.0f}s; see {self.log_file}")

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
