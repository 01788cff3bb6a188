"""Records written to hurt, through the real broker and worker: none stops the pipeline for anyone else.

A poison and fuzz batch (random bytes, truncated and mutated records, huge strings, deep nesting, invalid UTF-8, NUL,
lone surrogates, wrong CSV columns, extreme numbers, a year-9999 date, impossible revisions) interleaved with valid
records; rows the store refuses; and a worker told to stop while its broker is gone.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench._local import children_of
from crimelink.cli.broker import LocalBroker, fetch_broker
from crimelink.intake.edges import EventWindow
from crimelink.intake.feeds.bcp_csv import to_message
from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.schemas.outcomes import DeadLetter
from crimelink.streams.kafka_io import Publisher
from tests.conftest import REPO, RunningWorker, checked_incident, grocer_record, wait_until
from tests.integration.test_correlation import _group_incident

pytestmark = pytest.mark.integration


def _flat_record(number: int) -> dict[str, Any]:
    return json.loads((REPO / "tests" / "fixtures" / "convenience_flat.jsonl").read_text().splitlines()[0]) | {
        "ref": f"FZ-FLAT-{number}"}


def _csv_rows() -> tuple[list[str], list[str]]:
    import csv

    rows = list(csv.reader((REPO / "tests" / "fixtures" / "bcp_csv.csv").read_text(encoding="utf-8-sig").splitlines()))
    return rows[0], rows[1]


def _poison_batch(seed: int) -> list[tuple[str, bytes]]:
    """(feed format, bytes): valid records of each format and, between them, every kind of bad one."""
    rng = random.Random(seed)
    header, row = _csv_rows()
    valid_grocer = [json.dumps(grocer_record(incident={"id": f"FZ-OK-{n}", "revision": 1})).encode() for n in range(30)]
    base = valid_grocer[0]
    cases: list[tuple[str, bytes]] = [
        *(("national_grocer", rng.randbytes(rng.randint(1, 400))) for _ in range(6)),
        *(("national_grocer", base[:rng.randint(1, len(base) - 1)]) for _ in range(4)),
        *(("national_grocer", bytes(b ^ 0x5A if rng.random() < 0.02 else b for b in base)) for _ in range(4)),
        ("national_grocer", json.dumps(grocer_record(incident={"id": "FZ-HUGE", "revision": 1},
                                                     narrative="x" * 600_000)).encode()),
        ("national_grocer", json.dumps(grocer_record(incident={"id": "FZ-BIG", "revision": 1},
                                                     narrative="y" * 1_020_000)).encode()),
        ("national_grocer", b"[" * 60_000 + b"]" * 60_000),
        ("national_grocer", base.replace(b"Two males", b"Two \xff\xfe males")),
        ("national_grocer", base.replace(b"Two males", b"Two \\u0000 males")),
        ("national_grocer", base.replace(b"Two males", b"Two \x00 males")),
        ("national_grocer", base.replace(b"Two males", b"Two \\ud800 males")),
        ("national_grocer", json.dumps(grocer_record(incident={"id": "FZ-REV", "revision": 10**30})).encode()),
        ("national_grocer", json.dumps(grocer_record(incident={"id": "FZ-REV24", "revision": 2**24})).encode()),
        ("national_grocer", json.dumps(grocer_record(incident={"id": "FZ-QTY", "revision": 1}, loss={"lines": [
            {"category": "ALC", "description": "x", "qty": 10**30, "unit_price_pence": 379785907399902533270}]})).encode()),
        ("national_grocer", json.dumps(grocer_record(incident={"id": "FZ-9999", "revision": 1},
                                                     occurred={"from": "9999-12-31T23:00:00+00:00"})).encode()),
        ("national_grocer", json.dumps(grocer_record(incident={"id": "FZ-1066", "revision": 1},
                                                     occurred={"from": "1066-10-14T09:00:00+00:00"})).encode()),
        ("national_grocer", json.dumps(grocer_record(incident={"id": "FZ-TYPE", "revision": 1},
                                                     store={"id": {"nested": [1, 2]}})).encode()),
        ("national_grocer", json.dumps(grocer_record(incident={"id": "FZ-NEG", "revision": 1},
                                                     offenders={"count": -3, "descriptions": []})).encode()),
        ("convenience_flat", json.dumps(_flat_record(0) | {"qty_total": "1e400"}).encode()),
        ("convenience_flat", rng.randbytes(200)),
        ("bcp_csv", to_message(header, row[:-3])),  # too few columns
        ("bcp_csv", to_message(header, [*row, "extra", "columns"])),
        ("bcp_csv", to_message(header, row).replace(b"Tillco", b"Till\xe9co")),  # not UTF-8
        ("bcp_csv", b"\x00\x01\x02" * 50),
    ]
    valid = [("national_grocer", record) for record in valid_grocer[1:]] + [
        ("convenience_flat", json.dumps(_flat_record(n)).encode()) for n in range(1, 6)] + [
        ("bcp_csv", to_message(header, [f"FZ-CSV-{n}", *row[1:]])) for n in range(5)]
    batch = valid + cases
    rng.shuffle(batch)
    return [("national_grocer", base), *batch]


def test_no_record_stops_the_pipeline_and_every_one_is_accounted_for(start_worker) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    assert worker.process.process is not None
    intake_before = children_of(worker.process.process.pid)
    batch = _poison_batch(seed=26)
    normaliser = Normaliser(StoreRegistry.load(), EventWindow())
    expected_incidents, expected_dead = set(), 0
    with Publisher(worker.bootstrap) as publisher:
        for feed_format, payload in batch:
            publisher.send(worker.topics.raw[feed_format], payload)
            outcome = normaliser.normalise(RawRecord(feed_format, payload, "raw", 0, 0, datetime.now(UTC)))
            if isinstance(outcome, DeadLetter):
                expected_dead += 1
            else:
                expected_incidents.add(f"{outcome.retailer}:{outcome.incident_id}")
    assert expected_dead >= 25 and len(expected_incidents) >= 35  # the batch is as hostile as meant

    wait_until(lambda: worker.scalar("SELECT count() FROM dead_letters") >= expected_dead
               and worker.scalar("SELECT uniqExact(retailer, incident_id) FROM incidents") >= len(expected_incidents),
               timeout=90, message="every record of the batch stored or refused")
    stored = {f"{r}:{i}" for r, i in worker.query("SELECT DISTINCT retailer, incident_id FROM incidents").rows}
    assert stored == expected_incidents
    letters = worker.query("SELECT reason_problems, summary FROM dead_letters").rows
    assert len(letters) == expected_dead
    problems = {problem for row in letters for problem in row[0]}
    assert all(row[0] and row[1] for row in letters)  # each with its reason
    assert "internal-error" not in problems  # none was a crash caught at the last moment
    assert {"too-large", "in-the-future", "too-early", "nul-character", "invalid-unicode", "not-json"} <= problems

    # Linking still works after the batch: a team across three forces in two regions alerts.
    with Publisher(worker.bootstrap) as publisher:
        for number, (force, hours) in enumerate([("kent", 0), ("essex", 20), ("sussex", 40)]):
            publisher.send(worker.topics.raw["national_grocer"], json.dumps(_group_incident(number, force, hours)).encode())
    wait_until(lambda: worker.scalar("SELECT count() FROM alerts FINAL") >= 1, timeout=60, message="the team's alert")

    log = worker.log()
    assert children_of(worker.process.process.pid) == intake_before, "an intake worker restarted"
    assert "exited with" not in log and "Traceback" not in log, log[-3000:]


def test_a_row_the_store_refuses_is_set_aside_and_the_rest_is_stored(start_worker) -> None:  # type: ignore[no-untyped-def]
    """Such a row (here a revision no version column can hold, as an older or buggy writer could send) was retried for
    ever, so no later row of its partition was stored (0 of 200 in 120 s)."""
    worker = start_worker()
    topic = worker.topics.checked

    def checked(number: int, **incident: Any) -> bytes:
        return json.dumps(checked_incident(incident={"id": f"SR-{number}", "revision": 1, **incident})).encode()

    with Publisher(worker.bootstrap) as publisher:
        for number in range(20):
            publisher.send(topic, checked(number), key=b"same-partition")
        poisoned = json.loads(checked(99))
        poisoned["revision"] = 2**31  # fits its model, not the stored version (revision << 40 in a UInt64)
        publisher.send(topic, json.dumps(poisoned).encode(), key=b"same-partition")
        publisher.send(topic, b"{not json", key=b"same-partition")
        for number in range(20, 40):
            publisher.send(topic, checked(number), key=b"same-partition")
    # The sink stores a round's good rows first and its refused ones after, so wait for both.
    wait_until(lambda: worker.scalar("SELECT count() FROM incidents WHERE incident_id LIKE 'SR-%'") == 40
               and worker.scalar("SELECT count() FROM sink_rejects") >= 3, timeout=60,
               message="the 40 good rows around the two bad ones stored, and the two set aside")
    rejects = worker.query("SELECT `table`, topic, `offset`, error, payload FROM sink_rejects "
                           "ORDER BY `offset`, `table`").rows
    # The revision no version column holds is refused by both tables written from the topic, each for its own row;
    # the message that is no row at all is set aside once.
    assert [(row[0], row[1]) for row in rejects] == [("incident_identities", topic), ("incidents", topic),
                                                     ("incidents", topic)]
    assert rejects[0][2] == rejects[1][2] and rejects[2][2] == rejects[1][2] + 1  # the offsets to replay from
    assert all("version" in row[3] and '"SR-99"' in row[4] for row in rejects[:2])
    assert "does not make a row" in rejects[2][3] and rejects[2][4] == "{not json"


def test_the_worker_stops_within_its_deadline_whatever_it_is_doing(tmp_path: Path) -> None:
    """With its broker gone, the worker once ignored SIGTERM for over 60 s."""
    broker = LocalBroker(libs=fetch_broker(REPO / ".crimelink" / "kafka" / "dist"), data_dir=tmp_path / "kafka",
                         partitions=2)
    broker.start()
    worker = RunningWorker(broker.bootstrap, tmp_path / "worker", CRIMELINK_SHUTDOWN_SECONDS="5")
    try:
        try:
            worker.start()
            with Publisher(worker.bootstrap) as publisher:
                publisher.send(worker.topics.raw["national_grocer"], json.dumps(grocer_record()).encode())
            wait_until(lambda: worker.scalar("SELECT count() FROM incidents") == 1, message="the worker at work")
        finally:
            assert broker.process is not None
            os.killpg(broker.process.pid, signal.SIGKILL)  # the broker is gone, as when its machine dies
            broker.process.wait(10)
        process = worker.process.process
        assert process is not None
        intake = children_of(process.pid)
        time.sleep(3)
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(5 + 15)
        except subprocess.TimeoutExpired:
            pytest.fail("the worker was still running 20 s after SIGTERM, with CRIMELINK_SHUTDOWN_SECONDS=5")
        print(f"\nthe worker stopped {time.monotonic() - started:.1f} s after SIGTERM, its broker gone")
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in intake), timeout=20,
                   message="its intake workers gone too")
    finally:  # whatever failed, nothing of it outlives the test
        running = worker.process.process
        if running is not None and running.poll() is None:
            for pid in children_of(running.pid):
                os.kill(pid, signal.SIGKILL)
            os.killpg(running.pid, signal.SIGKILL)
            running.wait(10)





def test_ingest_sends_what_it_can_read_and_lists_the_rest(start_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A 50 MB line once died with MessageSizeTooLargeError, a deeply nested file with RecursionError."""
    worker = start_worker()
    path = tmp_path / "mixed.jsonl"
    good = [json.dumps(grocer_record(incident={"id": f"IN-{n}", "revision": 1})).encode() for n in range(3)]
    path.write_bytes(b"\n".join([good[0], b'{"narrative": "' + b"x" * 50_000_000 + b'"}', good[1],
                                 good[2].replace(b"Two males", b"Two m\xe2les"), b"[" * 100_000, good[2]]) + b"\n")
    shown = subprocess.run([sys.executable, "-m", "crimelink.cli", "ingest", str(path), "--format", "national_grocer"],
                           env=worker.env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr + shown.stdout
    assert "sent 4 record(s)" in shown.stdout
    assert "2 record(s) not sent" in shown.stderr
    assert "line 2: too-large" in shown.stderr and "line 4: invalid-encoding" in shown.stderr
    wait_until(lambda: worker.scalar("SELECT uniqExact(incident_id) FROM incidents WHERE incident_id LIKE 'IN-%'") == 3
               and worker.scalar("SELECT count() FROM dead_letters") == 1, message="three stored, the nesting refused")
