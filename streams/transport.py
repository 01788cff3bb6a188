"""Faust's aiokafka transport with one change: how long the broker may hold a fetch that finds no new data.

Why: Faust fixes ``fetch_max_wait_ms`` at 1,500 ms, and aiokafka keeps one fetch in flight per
broker. Once the records already fetched are used up, the next fetch can hold only partitions that
are idle (gate commands, crime-number updates, changelogs), so the broker holds it for the full
1.5 s while a backlog waits on the busy partitions: the worker stalled for ~1.3 s at a time and a
bare Faust agent read 4k messages/s instead of 15k (bench/throughput.py). The wait is a setting
here (``CRIMELINK_FETCH_MAX_WAIT_MS``). Registered as the ``crimelink-kafka://`` broker scheme.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["SCHEME", "Transport", "fetch_max_wait_ms"]

SCHEME = "crimelink-kafka"


def fetch_max_wait_ms() -> int:
    from crimelink.settings import get_settings

    return get_settings().fetch_max_wait_ms


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by the fetcher aiokafka creates when the consumer starts (aiokafka 0.14: a constructor argument
        # stored as is); tests/unit/test_transport.py fails if that ever changes.
        consumer._fetch_max_wait_ms = fetch_max_wait_ms()  # noqa: SLF001
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
