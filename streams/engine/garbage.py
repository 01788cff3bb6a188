"""Garbage-collector tuning for the long-running worker and intake workers.

The worker holds hundreds of thousands of long-lived objects (the correlation window, the gate's
held incidents, Faust's tables). With Python's default thresholds the cyclic garbage collector
re-walks them so often that it costs more than parsing and correlating: measured on this project's
machine, parsing one incident took 137 µs with the defaults and 31 µs with these settings.
Reference counting still frees almost everything at once; only cycles wait a little longer.

Even so, each older-generation collection walked every object the worker holds: measured in the
latency benchmark at 2,000/s, one took 423 ms and another 750 ms 30 s in, and those pauses were the
slowest alerts. So the worker also freezes what has survived, every few seconds
(:func:`freeze_survivors`, on a timer :func:`install` adds to the app): collections then walk only what was
made since.
"""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["tune_garbage_collector", "freeze_survivors", "install"]


def tune_garbage_collector(young_threshold: int) -> None:
    """Collect the young generation every ``young_threshold`` allocations (not 700), and leave
    everything alive now (modules, reference data, the app) out of future collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, 20, 10)


def freeze_survivors() -> int:
    """Collect the youngest generation, then leave every object still alive out of future collections; returns how
    many are frozen in all.

    The collection first: ``gc.freeze`` keeps whatever is tracked, garbage the young collection has not reached yet
    included (at a low rate it runs seldom), and a frozen reference cycle is never freed. Only the youngest
    generation: the next one holds all that survived since the last freeze, and collecting it took 120-210 ms in the
    worker at 2,000/s. Reference counting still frees a frozen object once nothing refers to it; only a frozen object
    in a reference cycle stays, so cycles must be few and short-lived. clickhouse-connect's insert context made one
    per insert, holding its rows; ``crimelink.sinks.clickhouse`` breaks it (a 30-second collection of what freezing had kept
    then found 20 objects instead of 60,000).
    """
    gc.collect(0)
    gc.freeze()
    return gc.get_freeze_count()


def install(app: Any, every_seconds: float) -> None:
    """Freeze what survived every ``every_seconds`` (``CRIMELINK_GC_FREEZE_SECONDS``; 0: never), in the worker and in
    each intake worker alike."""
    if not every_seconds:
        return

    @app.timer(interval=every_seconds, name="freeze_what_survived")
    async def freeze_what_survived() -> None:
        freeze_survivors()
