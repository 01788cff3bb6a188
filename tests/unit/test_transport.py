"""crimelink's Faust transport: Faust's aiokafka driver with the fetch wait from the settings."""

from __future__ import annotations

import asyncio
import inspect

import aiokafka
import faust
import pytest

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
