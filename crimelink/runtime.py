"""Process-wide tuning for the long-running worker.

The worker holds hundreds of thousands of long-lived objects (the correlation window, the gate's
held incidents, Faust's tables). With Python's default thresholds the cyclic garbage collector
re-walks them so often that it costs more than parsing and correlating: measured on this project's
machine, parsing one incident took 137 µs with the defaults and 31 µs with these settings.
Reference counting still frees almost everything at once; only cycles wait a little longer.
"""

from __future__ import annotations

import gc

__all__ = ["tune_garbage_collector"]


def tune_garbage_collector(young_threshold: int) -> None:
    """Collect the young generation every ``young_threshold`` allocations (not 700), and leave
    everything alive now (modules, reference data, the app) out of future collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, 20, 10)
