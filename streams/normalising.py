"""One batch of raw records -> the output the normaliser sends for it, computed in the worker or in a
helper process beside it.

Why a helper process: the worker is one Python thread (the GIL), and on this project's 2-core machine
that thread was the limit while most of the second core sat idle. Normalising needs no state but the
store registry, so it can run elsewhere: the helper parses and validates, the worker only unpickles
bytes, and its event loop spends the time on the gate, correlation and the sink instead.

The agent delivers each batch's output in order and acknowledges its records only once it is
delivered, so offsets never run ahead of output. A helper that dies or cannot take a batch costs a
log line, not the batch: the worker normalises that batch itself and starts a fresh helper for the next.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import defaultdict
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from crimelink.gate import feedback_for_dead_letter
from crimelink.normalise import Normaliser, RawRecord
from crimelink.runtime import tune_garbage_collector
from crimelink.stores import StoreRegistry
from schemas.incident import Incident
from schemas.outcomes import DeadLetter
from streams.envelopes import INCIDENTS_HEAD, pack_models, partition_for
from streams.record_batches import Output
from streams.topic_names import TopicNames

__all__ = ["NormalisedBatch", "normalise_batch", "NormaliserPool"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class NormalisedBatch:
    output: Output = field(default_factory=Output)
    envelopes: list[tuple[bytes, list[Incident]]] = field(default_factory=list)
    """Each envelope in ``output`` with the incidents packed into it, for ``streams.envelopes.sent_incidents``;
    empty when a helper process did the work (models do not cross processes, the gate parses instead)."""


def normalise_batch(normaliser: Normaliser, records: list[RawRecord], names: TopicNames,
                    partitions: int) -> NormalisedBatch:
    """Incidents packed into one envelope per partition of ``names.normalised``; dead letters (and the retailer
    feedback they earn) one message each."""
    batch = NormalisedBatch()
    by_partition: defaultdict[int, list[Incident]] = defaultdict(list)
    for record in records:
        result = normaliser.normalise(record)
        if isinstance(result, DeadLetter):
            batch.output.add(names.dead_letters, result.key.encode(), result.model_dump_json().encode())
            feedback = feedback_for_dead_letter(result)
            if feedback is not None:
                batch.output.add(names.feedback, feedback.key.encode(), feedback.model_dump_json().encode())
        else:
            by_partition[partition_for(result.key.encode(), partitions)].append(result)
    for partition, incidents in by_partition.items():
        for envelope, packed in pack_models(incidents, INCIDENTS_HEAD):
            batch.output.add(names.normalised, None, envelope, partition)
            batch.envelopes.append((envelope, packed))
    return batch


class NormaliserPool:
    """Runs :func:`normalise_batch` in ``processes`` helper processes, or in this process when that is 0."""

    def __init__(self, processes: int, stores_file: Path | None, names: TopicNames, partitions: int,
                 gc_young_threshold: int) -> None:
        self._processes = processes
        self._stores_file = stores_file
        self._names = names
        self._partitions = partitions
        self._gc_young_threshold = gc_young_threshold
        self._normaliser = Normaliser(StoreRegistry.load(stores_file))
        self._executor: Executor | None = None
        self._closed = False
        self.fallbacks = 0
        """Batches the worker normalised itself because a helper failed."""

    async def normalise(self, records: list[RawRecord]) -> NormalisedBatch:
        if not self._processes or self._closed:
            return normalise_batch(self._normaliser, records, self._names, self._partitions)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._helpers(), _normalise_in_helper, records)
        except Exception as error:  # noqa: BLE001 - a broken helper must cost neither the batch nor the stream
            self.fallbacks += 1
            log.error("normaliser helper failed (%r); this batch of %d record(s) is normalised in the worker and a "
                      "fresh helper takes the next", error, len(records))
            self._discard()
            return normalise_batch(self._normaliser, records, self._names, self._partitions)

    async def start(self) -> None:
        """Start the helpers now rather than on the first batch (each imports crimelink, about a second)."""
        if not self._processes:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._helpers(), _ready)
        except Exception as error:  # noqa: BLE001 - the first batch tries again, and falls back to the worker
            log.error("normaliser helper did not start (%r); the first batch will try again", error)
            self._discard()

    def close(self) -> None:
        """Stop the helpers for good: batches still arriving while the worker shuts down are normalised here."""
        self._closed = True
        self._discard()

    def _discard(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _helpers(self) -> Executor:
        if self._executor is None:
            # spawn, not fork: the worker runs threads (Kafka consumer, ClickHouse) whose locks a fork would copy.
            self._executor = ProcessPoolExecutor(
                self._processes, mp_context=get_context("spawn"), initializer=_start_helper,
                initargs=(os.getpid(), self._stores_file, self._names, self._partitions, self._gc_young_threshold),
            )
        return self._executor


# --- inside a helper process ------------------------------------------------------------------

_helper: tuple[Normaliser, TopicNames, int] | None = None


def _start_helper(parent: int, stores_file: Path | None, names: TopicNames, partitions: int,
                  gc_young_threshold: int) -> None:
    global _helper  # noqa: PLW0603 - one normaliser per helper process
    # Signals for the worker's process group (Ctrl-C, or the demo stopping the worker) are the worker's to act
    # on: a helper killed by one while the worker finishes its last batches would only break the pool.
    os.setpgrp()
    threading.Thread(target=_exit_with, args=(parent,), name="exit-with-worker", daemon=True).start()
    _helper = (Normaliser(StoreRegistry.load(stores_file)), names, partitions)
    tune_garbage_collector(gc_young_threshold)


def _exit_with(parent: int) -> None:
    """A worker killed outright cannot stop its helpers, so each leaves once its parent is gone."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _ready() -> bool:
    return _helper is not None


def _normalise_in_helper(records: list[RawRecord]) -> NormalisedBatch:
    assert _helper is not None, "the helper's initializer did not run"
    normaliser, names, partitions = _helper
    batch = normalise_batch(normaliser, records, names, partitions)
    batch.envelopes = []
    return batch
