"""crimelink's Faust transport: Faust's aiokafka driver with the fetch wait from the settings."""

from __future__ import annotations

import asyncio
import inspect

import aiokafka
import faust
import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from crimelink.settings import KafkaSettings, Settings
from crimelink.streams.app import create_app
from crimelink.streams.engine.transport import (
    DEFAULT_FETCH_MAX_WAIT_MS,
    SCHEME,
    Transport,
    seek_to_committed_or_beginning,
)


def test_the_worker_consumer_gets_the_configured_fetch_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRIMELINK_FETCH_MAX_WAIT_MS", "35")
    app = create_app(Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1")))  # the variable, read as the worker does
    assert isinstance(app.transport, Transport)

    async def build() -> aiokafka.AIOKafkaConsumer:  # aiokafka wants a running loop; built, not started: no broker
        thread = app.consumer._new_consumer_thread()  # noqa: SLF001
        return thread._create_worker_consumer(app.transport)  # noqa: SLF001

    consumer = asyncio.run(build())
    assert isinstance(consumer, aiokafka.AIOKafkaConsumer)
    assert consumer._fetch_max_wait_ms == 35  # noqa: SLF001


def test_an_app_that_does_not_say_gets_the_default_fetch_wait() -> None:
    """The bare-Faust ceiling of bench.throughput runs a plain Faust app on this transport."""
    app = faust.App("transport-test", broker=f"{SCHEME}://127.0.0.1:1", store="memory://", web_enabled=False)

    async def build() -> aiokafka.AIOKafkaConsumer:
        return app.consumer._new_consumer_thread()._create_worker_consumer(app.transport)  # noqa: SLF001

    assert asyncio.run(build())._fetch_max_wait_ms == DEFAULT_FETCH_MAX_WAIT_MS  # noqa: SLF001


def test_aiokafka_still_builds_its_fetcher_from_that_attribute() -> None:
    # The transport sets a private attribute; if aiokafka stops reading it, the setting silently does nothing.
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(aiokafka.AIOKafkaConsumer.start)


def test_fausts_own_producer_is_idempotent_and_waits_for_every_in_sync_replica() -> None:
    producer = asyncio.run(_built(create_app(Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1")))))
    assert producer._txn_manager is not None  # noqa: SLF001 - aiokafka's idempotence state (None without it)
    assert producer._sender._acks == -1  # noqa: SLF001 - "all"
    stock = faust.App("stock-producer", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    assert asyncio.run(_built(stock))._txn_manager is None  # noqa: SLF001 - what Faust does as shipped


async def _built(app: faust.App) -> aiokafka.AIOKafkaProducer:
    """The app's producer, built, not started (no broker; aiokafka wants a running loop)."""
    return app.producer._new_producer()  # noqa: SLF001


def test_the_worker_seeks_stream_partitions_with_the_beginning_fallback() -> None:
    # The fallback itself runs against the real broker in tests/integration/test_transport_seek.py; this pins that
    # the worker's consumer thread goes through it, with the topics Faust acks as the stream topics.
    app = faust.App("seek-test", broker=f"{SCHEME}://127.0.0.1:1", store="memory://", web_enabled=False,
                    consumer_auto_offset_reset="earliest")
    calls: list[tuple[object, tuple[object, ...]]] = []

    async def run() -> None:
        thread = app.consumer._new_consumer_thread()  # noqa: SLF001

        async def call_thread(function: object, *args: object) -> dict[object, object]:
            calls.append((function, args))
            return {}

        thread.call_thread = call_thread  # type: ignore[method-assign]
        thread._ensure_consumer = lambda: "the aiokafka consumer"  # type: ignore[method-assign,assignment,return-value]  # noqa: SLF001
        await thread.seek_to_committed()

    asyncio.run(run())
    assert calls == [(seek_to_committed_or_beginning, ("the aiokafka consumer", app.topics.acks_enabled_for))]


def _consumer_with(acked: list[int], next_commit: int, committed: int | None) -> tuple[object, TP]:
    consumer = create_app(Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1"))).consumer  # built, not started
    tp = TP("raw", 0)
    consumer._next_commit[tp] = next_commit  # noqa: SLF001 - where the partition was sought to
    consumer._committed_offset[tp] = committed  # noqa: SLF001 - Faust's own view (None for 0)
    consumer._acked[tp] = list(acked)  # noqa: SLF001
    consumer._acked_index[tp] = set(acked)  # noqa: SLF001
    return consumer, tp


@pytest.mark.parametrize(("acked", "next_commit", "committed"), [
    ([101, 102], 100, 100),  # one record missing at the head: Faust's check lets a gap of one through
    (list(range(50, 61)), 0, None),  # a partition sought to 0, or not committed yet: Faust checks nothing at all
])
def test_no_commit_passes_an_offset_not_yet_acknowledged(acked: list[int], next_commit: int,
                                                         committed: int | None) -> None:
    stock, tp = _consumer_with(acked, next_commit, committed)
    assert faust_aiokafka.Consumer._new_offset(stock, tp) == acked[-1] + 1  # noqa: SLF001 - what Faust would commit
    consumer, tp = _consumer_with(acked, next_commit, committed)
    assert consumer._new_offset(tp) is None  # noqa: SLF001
    consumer._acked[tp][:0] = range(next_commit, acked[0])  # noqa: SLF001 - the head acknowledged at last
    consumer._acked_index[tp].update(range(next_commit, acked[0]))  # noqa: SLF001
    assert consumer._new_offset(tp) == acked[-1] + 1  # noqa: SLF001
    assert consumer._next_commit[tp] == acked[-1] + 1  # noqa: SLF001 - and the next commit waits for that one


def test_offsets_the_log_does_not_have_are_not_waited_for() -> None:
    consumer, tp = _consumer_with([101, 102], 100, 100)
    consumer._gap[tp].addi(100, 101)  # noqa: SLF001 - offset 100 is a transaction marker, say
    assert consumer._new_offset(tp) == 103  # noqa: SLF001


def test_a_jump_in_offsets_is_read_again_and_is_a_gap_only_when_it_comes_straight_back() -> None:
    """Faust took every jump for a gap of the log and committed past it; most were records its getmany had dropped."""
    consumer, tp = _consumer_with([], 100, 100)
    consumer._jumped(tp, 100, 105)  # noqa: SLF001
    assert consumer._rewind[tp] == 100 and not consumer._gap[tp]  # noqa: SLF001 - read again, no gap yet
    consumer._rewind.pop(tp)  # noqa: SLF001 - sought back to 100; the first record is 105 again
    consumer._jumped(tp, 100, 105)  # noqa: SLF001
    assert tp not in consumer._rewind and consumer._gap[tp].overlaps(100, 105)  # noqa: SLF001 - the log lacks them
