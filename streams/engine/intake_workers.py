"""The intake workers: separate ``crimelink worker`` processes (``CRIMELINK_WORKER_ROLE=intake``) that the worker
starts, keeps running and stops, to run everything before correlation beside it.

Why separate processes: the worker is one Python thread (the GIL), and on this project's 2-core machine
that thread was the limit while the second core was partly idle. An intake worker is a Faust worker of
its own (consumer group ``<app id>-intake``) with the normalise agent, the crime-number gate and the
crime-number update router: raw records, the normaliser's envelopes (taken back from memory, not
parsed: ``crimelink.streams.engine.envelopes``) and the gate's table never reach the main worker, which reads the
gate's case envelopes and spends its thread on correlation, the sink and the web server. The gate
table's changelog keeps the worker's name (``crimelink.streams.engine.changelog``), so held incidents survive a switch
between ``CRIMELINK_INTAKE_PROCESSES`` 0 and 1 or more.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kafka import TopicPartition

from crimelink.settings import Settings
from crimelink.streams.engine.membership import static_member_id
from crimelink.streams.kafka_auth import Broker
from crimelink.streams.kafka_io import carry_offsets, remove_static_members
from crimelink.streams.topics import TopicNames

__all__ = ["IntakeWorkers", "exit_with_parent", "take_over_intake_offsets"]

log = logging.getLogger(__name__)


class IntakeWorkers:
    """Starts ``count`` intake workers (``CRIMELINK_WORKER_ROLE=intake``), restarts any that exits while
    this worker runs, and stops them with it.

    Each runs in a session of its own: Ctrl-C, or a signal to the worker's process group, is the worker's
    to act on, and the worker then stops them in turn. A worker killed outright cannot, so each intake
    worker also stops itself once its parent is gone (:func:`exit_with_parent`).
    """

    def __init__(self, count: int, loglevel: str, *, app_id: str, home: Path, first_delay: float = 1.0,
                 max_delay: float = 30.0) -> None:
        self._count = count
        self._loglevel = loglevel
        self._app_id = app_id
        self._home = home
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._processes: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> list[int]:
        """Returns their pids."""
        if not self._count:
            return []
        self._processes = [self._spawn(index) for index in range(self._count)]
        self._watcher = threading.Thread(target=self._watch, name="intake-workers", daemon=True)
        self._watcher.start()
        return [process.pid for process in self._processes]

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM each (Faust then commits and flushes its producer; as a static member it stays in its group until
        its successor joins or the session times out); SIGKILL what is left after ``timeout``."""
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
                log.error("intake worker %d did not stop within %.0fs; killing it", process.pid, timeout)
                process.kill()
                process.wait()

    def terminate(self) -> None:
        """Tell each to stop now (SIGTERM) without waiting, and start no more: the worker was told to stop, and they
        stop alongside it rather than after it (:meth:`stop` then waits for them)."""
        self._stopping.set()
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL what is left of them (the worker is about to exit outright)."""
        for process in self._processes:
            if process.poll() is None:
                process.kill()

    def retire_earlier_members(self, bootstrap: Broker, timeout: float = 60.0) -> list[str]:
        """Before they start: remove from the intake group the static members an earlier run's intake workers on this
        machine and working area left behind; returns their ids.

        Why: a static member stays in its group after it stops, until the session times out (60 s). Had the earlier
        run more intake workers, the partitions of those no longer started would be assigned to nobody until then;
        and a group with members takes no carried-over offsets (:func:`take_over_intake_offsets`), so a switch of
        ``CRIMELINK_INTAKE_PROCESSES`` would replay the intake topics. Static membership still serves its purpose: an
        intake worker that dies while this worker runs is replaced under the same id.
        """
        prefix = self._instance_prefix()
        return remove_static_members(bootstrap, f"{self._app_id}-intake", lambda instance: instance.startswith(prefix),
                                     timeout)

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        env = {**os.environ, "CRIMELINK_WORKER_ROLE": "intake", "CRIMELINK_INTAKE_INSTANCE": self._instance(index)}
        command = [sys.executable, "-m", "crimelink.cli", "worker", "--loglevel", self._loglevel, "--exit-with",
                   str(os.getpid())]
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, start_new_session=True)

    def _instance(self, index: int) -> str:
        """Static group membership (``CRIMELINK_INTAKE_INSTANCE``; ``crimelink.streams.engine.membership``), the same
        for the intake worker in this slot across restarts: a SIGKILLed one's replacement takes its partitions as it
        joins (measured here: 61 s without any intake otherwise)."""
        return f"{self._instance_prefix()}{index}"

    def _instance_prefix(self) -> str:
        return static_member_id(self._app_id, "intake", self._home) + "-"

    def _watch(self) -> None:
        delays = [self._first_delay] * self._count
        started = [time.monotonic()] * self._count
        while not self._stopping.wait(0.5):
            for index, process in enumerate(self._processes):
                if process.poll() is None:
                    continue
                if time.monotonic() - started[index] > self._max_delay:  # it had run a while: not a crash loop
                    delays[index] = self._first_delay
                log.error("intake worker %d exited with %s; starting another in %.0fs (records wait in Kafka "
                          "meanwhile)", process.pid, process.returncode, delays[index])
                if self._stopping.wait(delays[index]):
                    return
                self._processes[index] = self._spawn(index)
                started[index] = time.monotonic()
                delays[index] = min(delays[index] * 2, self._max_delay)


def exit_with_parent(parent: int, poll: float = 0.1) -> None:
    """In an intake worker: once the worker that started it (``parent``, passed down rather than read here, as it
    may be gone already) is gone, exit at once, as if killed with it.

    Why not stop gracefully: the worker is gone because it crashed or was killed, and its replacement starts its own
    intake worker under the same static membership. One that lingered to stop went on gating and writing the gate's
    table beside its successor, with state the successor had already moved on from: chaos runs (bench/chaos.py) then
    stored an incident pending again after its crime number had released it, and one update in nine was lost that
    way. What it had not committed, its successor reads again. A graceful stop of the worker (SIGTERM, Ctrl-C) still
    stops its intake workers gracefully (:meth:`IntakeWorkers.terminate`)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        log.warning("the worker that started this intake worker is gone; exiting with it")
        logging.shutdown()
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-worker", daemon=True).start()


def take_over_intake_offsets(settings: Settings, *, in_intake_workers: bool) -> dict[TopicPartition, int]:
    """Before the intake agents start in one consumer group, bring it up to where the other arrangement's group got
    (``crimelink.streams.kafka_io.carry_offsets``), so changing ``CRIMELINK_INTAKE_PROCESSES`` between 0 and more replays
    nothing; returns the offsets moved. Replaying would not only repeat work: a replayed record of an incident that
    a crime-number update has since released would hold it again."""
    worker_group, intake_group = settings.kafka.app_id, f"{settings.kafka.app_id}-intake"
    earlier = f"{settings.kafka.app_id}-normaliser"  # the raw topics' group before the gate joined the intake workers
    taking_over, other = (intake_group, worker_group) if in_intake_workers else (worker_group, intake_group)
    names = TopicNames(settings)
    topics = [*names.raw_topics(), names.normalised, names.gate_commands, *names.update_topics()]
    return carry_offsets(settings.effective_kafka, taking_over, [other, earlier], topics)
