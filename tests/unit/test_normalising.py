"""A batch of raw records -> the normaliser's output, the same whether the worker or a helper process does it,
and a helper that dies costs no batch and leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crimelink.normalise import Normaliser, RawRecord
from crimelink.settings import Settings
from crimelink.simulate import Simulator
from crimelink.stores import StoreRegistry
from schemas.incident import IncidentBatch
from streams.envelopes import partition_for
from streams.normalising import NormalisedBatch, NormaliserPool, normalise_batch
from streams.topic_names import TopicNames

NAMES = TopicNames(Settings(topic_prefix="t."))


def _records(count: int, fault_rate: float = 0.1) -> list[RawRecord]:
    now = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    simulated = Simulator(StoreRegistry.load(), seed=11, fault_rate=fault_rate, now=now).records(count)
    return [RawRecord(record.feed_format, record.value, NAMES.raw[record.feed_format], 0, offset, now)
            for offset, record in enumerate(simulated)]


def _pool(processes: int) -> NormaliserPool:
    return NormaliserPool(processes, None, NAMES, 3, 50_000)


def test_a_batch_becomes_envelopes_per_partition_and_one_dead_letter_per_rejected_record() -> None:
    records = _records(300)
    batch = normalise_batch(Normaliser(StoreRegistry.load()), records, NAMES, 3)
    by_topic: dict[str, list[tuple[bytes | None, bytes, int | None]]] = {}
    for topic, records in batch.output.records.items():
        for key, value, partition in records:
            assert value is not None
            by_topic.setdefault(topic, []).append((key, value, partition))
    dead = by_topic[NAMES.dead_letters]
    incidents = [(incident, partition) for _, value, partition in by_topic[NAMES.normalised]
                 for incident in IncidentBatch.model_validate_json(value).incidents]
    assert 0 < len(dead) < 100 and len(dead) + len(incidents) == 300
    assert all(partition_for(incident.key.encode(), 3) == partition for incident, partition in incidents)
    assert {partition for _, partition in incidents} == {0, 1, 2}
    assert all(json.loads(value)["reasons"] for _, value, _ in dead)
    # the envelopes come with their models, so the worker's gate can take them back unparsed
    assert [envelope for envelope, _ in batch.envelopes] == [value for _, value, _ in by_topic[NAMES.normalised]]
    assert [incident for _, packed in batch.envelopes for incident in packed] == [incident for incident, _ in incidents]


def test_a_helper_process_sends_exactly_what_the_worker_would() -> None:
    records = _records(400)
    pool = _pool(1)
    try:
        from_helper = asyncio.run(pool.normalise(records))
        helpers = _children()
        groups = {os.getpgid(pid) for pid in helpers}
    finally:
        pool.close()
    in_worker = asyncio.run(_pool(0).normalise(records))
    assert from_helper.output.records == in_worker.output.records and len(in_worker.output) > 10
    assert len(helpers) == 1 and os.getpgid(0) not in groups  # a signal to the worker's process group misses it
    assert from_helper.envelopes == [] and in_worker.envelopes  # models stay in the process that made them
    assert pool.fallbacks == 0


def test_a_helper_that_dies_costs_no_batch_and_a_fresh_one_takes_the_next() -> None:
    records = _records(200)
    expected = asyncio.run(_pool(0).normalise(records)).output.records
    pool = _pool(1)

    async def run() -> tuple[NormalisedBatch, NormalisedBatch, NormalisedBatch]:
        first = await pool.normalise(records)
        for pid in _children():
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        second = await pool.normalise(records)  # the pool is broken: the worker does this batch itself
        third = await pool.normalise(records)
        return first, second, third

    try:
        batches = asyncio.run(run())
    finally:
        pool.close()
    assert [batch.output.records for batch in batches] == [expected] * 3
    assert pool.fallbacks == 1
    assert batches[1].envelopes and not batches[2].envelopes  # the fallback ran here; the next went to a new helper


def test_after_close_batches_are_normalised_in_the_worker_without_a_new_helper() -> None:
    records = _records(50)
    pool = _pool(1)
    asyncio.run(pool.start())
    pool.close()
    batch = asyncio.run(pool.normalise(records))
    assert batch.envelopes and pool.fallbacks == 0
    time.sleep(1.0)
    assert _children() == []


def test_helpers_leave_when_the_worker_is_killed(tmp_path: Path) -> None:
    """SIGKILL gives the worker no chance to stop its helpers; they must not outlive it."""
    script = tmp_path / "worker.py"
    script.write_text(
        "import asyncio, multiprocessing, sys\n"
        "from crimelink.settings import Settings\n"
        "from streams.normalising import NormaliserPool\n"
        "from streams.topic_names import TopicNames\n"
        "if __name__ == '__main__':  # the helper imports this module again (spawn)\n"
        "    pool = NormaliserPool(1, None, TopicNames(Settings()), 1, 50_000)\n"
        "    asyncio.run(pool.start())\n"
        "    print(' '.join(str(child.pid) for child in multiprocessing.active_children()), flush=True)\n"
        "    sys.stdin.read()\n"
    )
    worker = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parents[2])
    assert worker.stdout is not None
    helpers = [int(pid) for pid in worker.stdout.readline().split()]
    assert helpers and all(_alive(pid) for pid in helpers)
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in helpers)


def _children() -> list[int]:
    import multiprocessing

    return [child.pid for child in multiprocessing.active_children() if child.pid is not None]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


if sys.platform != "linux":  # pragma: no cover - reads /proc
    pytestmark = pytest.mark.skip("reads /proc")
