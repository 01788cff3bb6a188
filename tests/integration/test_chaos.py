"""The short chaos run (``bench/chaos.py``): the worker and the intake worker SIGKILLed at random during a steady
stream, every record counted against what the normaliser predicts. The long runs (10 kills of each, 5 runs) are the
benchmark's; their figures are in docs/performance.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import run_once

pytestmark = pytest.mark.integration


def test_kills_lose_double_and_repeat_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    result = run_once(kafka_bootstrap, tmp_path, seed=5, kills=2, rate=60.0, settle=120.0)
    print(f"\n{result}")
    assert result["records"] > 500
    assert result["lost_incidents"] == 0 and result["lost_dead_letters"] == 0, result["lost_examples"]
    assert result["doubled_in_incidents_latest"] == 0
    assert result["feedback_stored_twice"] == 0
    assert result["repeated_alerts"] == 0
    assert result["updates_not_applied"] == 0  # updates read before their incident are parked, not dropped
    assert result["resumed_after_worker_kill_s"]["max"] < 30  # a static member takes over as it joins (was 60 s)
