"""Table writes inside ``changelog_into`` join the step's output, as records Faust's recovery reads back."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from typing import Any

import faust
import pytest
from faust.streams import _current_event
from faust.types import Message

from crimelink.settings import KafkaSettings, Settings, WorkerSettings
from crimelink.streams.app import create_app
from crimelink.streams.engine.changelog import OutputTable, changelog_into
from crimelink.streams.engine.checkpoint import Output


def _app(role: str = "worker") -> faust.App:
    """A worker's app (or an intake worker's): built, never started, so no broker is needed."""
    return create_app(Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1", app_id="changelog-test"),
                               worker=WorkerSettings(role=role, intake_processes=0)))


@pytest.fixture
def scratch_app() -> faust.App:
    return _app()


@pytest.fixture
def in_event() -> Iterator[None]:
    """Table writes need the event they belong to: here, one read from partition 2 of a source topic."""
    message = Message("source", 2, 41, 0.0, 0, None, b"k", b"v", None)
    event = faust.Event(app=None, key=b"k", value=b"v", headers={}, message=message)  # type: ignore[arg-type]
    token = _current_event.set(weakref.ref(event))  # Faust keeps the current event as a weak reference
    yield
    _current_event.reset(token)


def _recovered(table: Any, records: list[tuple[bytes | None, bytes | None, int | None]]) -> dict[Any, Any]:
    """What Faust's recovery makes of ``records``: decoded by the changelog topic, applied to an empty table."""
    async def decode() -> list[Any]:
        return [await table.changelog_topic.decode(Message(table.changelog_topic.get_topic_name(), partition or 0,
                                                                offset, 0.0, 0, None, key, value, None))
                for offset, (key, value, partition) in enumerate(records)]

    table.data.data.clear()
    table.apply_changelog_batch(asyncio.run(decode()))
    return dict(table.data.data)


@pytest.mark.usefixtures("in_event")
def test_writes_in_a_step_go_into_its_output_and_recover_unchanged(scratch_app: faust.App) -> None:
    table = scratch_app.Table("held", default=None, partitions=4)
    output = Output()
    with changelog_into(output):
        table["a"] = '{"kind": "held"}'
        table["b"] = {"nested": [1, 2]}
        del table["a"]
        table["c"] = None
    records = output.records[table.changelog_topic.get_topic_name()]
    assert [(key, partition) for key, _, partition in records] == [(b'"a"', 2), (b'"b"', 2), (b'"a"', 2), (b'"c"', 2)]
    assert records[2][1] is None and records[3][1] == b"null"  # a deletion is a tombstone; a None value is not
    assert table["b"] == {"nested": [1, 2]} and "a" not in table
    assert _recovered(table, records[:3]) == {"b": {"nested": [1, 2]}}


@pytest.mark.usefixtures("in_event")
def test_outside_a_step_the_table_sends_through_faust(scratch_app: faust.App, monkeypatch: pytest.MonkeyPatch) -> None:
    table = scratch_app.Table("held", default=None, partitions=4)
    sent: list[tuple[Any, ...]] = []

    def send_changelog(partition: int | None, key: Any, value: Any, *_: Any, **__: Any) -> Any:
        sent.append((partition, key, value))
        return type("Sent", (), {"message": type("M", (), {"partition": partition})()})()

    monkeypatch.setattr(table, "send_changelog", send_changelog)
    output = Output()
    with changelog_into(output):
        pass
    table["a"] = "x"
    del table["a"]
    assert sent == [(2, "a", "x"), (2, "a", None)] and len(output) == 0


def test_the_app_makes_its_tables_with_it() -> None:
    assert _app().conf.Table is OutputTable


def test_a_table_recovers_the_same_changelog_in_a_worker_and_in_an_intake_worker() -> None:
    """The gate's table moves between the worker and the intake workers when CRIMELINK_INTAKE_PROCESSES changes."""
    worker, intake = _app("worker"), _app("intake")
    assert intake.conf.id == "changelog-test-intake"
    names = {app.tables["awaiting-crime-number"].changelog_topic.get_topic_name() for app in (worker, intake)}
    assert names == {"changelog-test-awaiting-crime-number-changelog"}
