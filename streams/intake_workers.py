"""The normaliser workers: separate ``crimelink worker`` processes (``CRIMELINK_WORKER_ROLE=normaliser``) that the
worker starts, keeps running and stops, to normalise beside it.

Why separate processes: the worker is one Python thread (the GIL), and on this project's 2-core machine
that thread was the limit while the second core was partly idle. Normalising needs no state but the
store registry, and every raw record costs Faust's per-message machinery as well as the normaliser's
work. A normaliser worker is a Faust worker of its own (consumer group ``<app id>-normaliser``, only the
normalise agent): the raw records never reach the main worker, which reads the normaliser's envelopes,
one per batch, and spends its thread on the gate, correlation and the sink.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

__all__ = ["NormaliserWorkers", "exit_with_parent"]

log = logging.getLogger(__name__)


class NormaliserWorkers:
    """Starts ``count`` normaliser workers (``CRIMELINK_WORKER_ROLE=normaliser``), restarts any that exits while
    this worker runs, and stops them with it.

    Each runs in a session of its own: Ctrl-C, or a signal to the worker's process group, is the worker's
    to act on, and the worker then stops them in turn. A worker killed outright cannot, so each normaliser
    worker also stops itself once its parent is gone (:func:`exit_with_parent`).
    """

    def __init__(self, count: int, loglevel: str, first_delay: float = 1.0, max_delay: float = 30.0) -> None:
        self._count = count
        self._loglevel = loglevel
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._processes: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> list[int]:
        """Returns their pids."""
        if not self._count:
            return []
        self._processes = [self._spawn() for _ in range(self._count)]
        self._watcher = threading.Thread(target=self._watch, name="normaliser-workers", daemon=True)
        self._watcher.start()
        return [process.pid for process in self._processes]

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM each (Faust then leaves its group and flushes its producer); SIGKILL what is left after ``timeout``."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self._processes:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("normaliser worker %d did not stop within %.0fs; killing it", process.pid, timeout)
                process.kill()
                process.wait()

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "CRIMELINK_WORKER_ROLE": "normaliser"}
        command = [sys.executable, "-m", "crimelink.cli", "worker", "--loglevel", self._loglevel, "--exit-with",
                   str(os.getpid())]
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, start_new_session=True)

    def _watch(self) -> None:
        delays = [self._first_delay] * self._count
        started = [time.monotonic()] * self._count
        while not self._stopping.wait(0.5):
            for index, process in enumerate(self._processes):
                if process.poll() is None:
                    continue
                if time.monotonic() - started[index] > self._max_delay:  # it had run a while: not a crash loop
                    delays[index] = self._first_delay
                log.error("normaliser worker %d exited with %s; starting another in %.0fs (raw records wait in Kafka "
                          "meanwhile)", process.pid, process.returncode, delays[index])
                if self._stopping.wait(delays[index]):
                    return
                self._processes[index] = self._spawn()
                started[index] = time.monotonic()
                delays[index] = min(delays[index] * 2, self._max_delay)


def exit_with_parent(parent: int, grace: float = 15.0) -> None:
    """In a normaliser worker: once the worker that started it (``parent``, passed down rather than read here, as it
    may be gone already) is gone, stop as Ctrl-C would (leaving the consumer group at once, not after a session
    timeout), and exit outright if that has not happened ``grace`` seconds on."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        log.warning("the worker that started this normaliser worker is gone; stopping")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-worker", daemon=True).start()
