"""Shutdown that always ends: once SIGTERM or Ctrl-C arrives, a worker has ``CRIMELINK_SHUTDOWN_SECONDS`` to stop as
Faust stops it (agents, the sink's last round, commits), and then exits outright.

Why: Faust's stop waits on whatever it is stopping. With the broker gone, the producer's flush and the consumer's
last commit waited; with ClickHouse refusing a row, the sink's retries did; the worker then ignored SIGTERM for over
60 s, and a supervisor's restart or a machine's shutdown waited on it. Exiting outright is safe because nothing is
committed ahead of what was stored or delivered (``crimelink.streams.engine.checkpoint``): what was not is read again
by the next worker. Faust's signal handling is otherwise kept (``mode.Worker._schedule_shutdown`` is where both signals
arrive).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from faust.worker import Worker

__all__ = ["BoundedWorker"]

log = logging.getLogger(__name__)


class BoundedWorker(Worker):  # type: ignore[misc]  # faust is untyped
    """Faust's worker whose stop, once signalled, takes at most ``shutdown_seconds``.

    ``on_signal`` runs when the signal arrives (the worker tells its intake workers to stop at once, not after its own
    stop); ``on_deadline`` runs just before the outright exit (the worker kills what is left of them)."""

    def __init__(self, app: Any, *, shutdown_seconds: float, on_signal: Callable[[], None] | None = None,
                 on_deadline: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._shutdown_seconds = shutdown_seconds
        self._on_signal = on_signal
        self._on_deadline = on_deadline
        self._deadline_armed = False

    def _schedule_shutdown(self, signal_received: signal.Signals) -> None:
        if not self._deadline_armed:
            self._deadline_armed = True
            threading.Thread(target=self._exit_at_deadline, name="shutdown-deadline", daemon=True).start()
            if self._on_signal is not None:
                self._on_signal()
        super()._schedule_shutdown(signal_received)

    def _exit_at_deadline(self) -> None:
        time.sleep(self._shutdown_seconds)
        log.error("the worker did not stop within %.0f s (CRIMELINK_SHUTDOWN_SECONDS); exiting now: what it had not "
                  "committed is read again by the next worker", self._shutdown_seconds)
        if self._on_deadline is not None:
            self._on_deadline()
        logging.shutdown()
        os._exit(1)
