"""How many records each retailer may send: a token bucket per retailer, in this gateway process."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

__all__ = ["RetailerRates"]


class RetailerRates:
    """``rate`` records a second on average, ``burst`` at once. With N gateways behind a load balancer a retailer
    may send N times as much: set the rate per process accordingly."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # retailer -> (tokens, when counted)
        self._lock = threading.Lock()

    def take(self, retailer: str, records: int) -> float:
        """Take ``records`` from the retailer's allowance: 0.0 when granted, else the seconds to wait (nothing is
        taken then)."""
        now = self._clock()
        with self._lock:
            tokens, counted = self._buckets.get(retailer, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - counted) * self.rate)
            if records <= tokens:
                self._buckets[retailer] = (tokens - records, now)
                return 0.0
            self._buckets[retailer] = (tokens, now)
            return max(0.001, (records - tokens) / self.rate) if records <= self.burst else math.inf
