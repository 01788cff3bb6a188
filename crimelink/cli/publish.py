"""Publishing a simulated feed to the raw topics at a steady rate (``crimelink simulate``, the demo)."""

from __future__ import annotations

import heapq
import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from crimelink.cli.gateway_client import GatewayClient
from crimelink.intake.stores import StoreRegistry
from crimelink.settings import Settings
from crimelink.simulation.feed import Simulator
from crimelink.streams.kafka_io import Publisher
from crimelink.streams.topics import TopicNames

__all__ = ["publish_simulation"]


def publish_simulation(settings: Settings, *, count: int | None, rate: float, seed: int = 7, fault_rate: float = 0.04,
                       stop: threading.Event | None = None, progress: Callable[[int], None] | None = None,
                       follow_up_seconds: float = 0.0, planted: list[Any] | None = None, planted_every: int = 10,
                       via_gateway: dict[str, GatewayClient] | None = None) -> int:
    """Publish simulated records to the raw topics at ``rate`` per second (0: flat out); returns how many records went
    out, planted ones and the gateway's included (``progress`` is told the same count as it grows).

    With ``follow_up_seconds`` > 0, half of the incidents sent without a crime number get one
    later, as a crime-number update up to that many seconds after the incident (as forces do).
    ``planted`` records (an OrcScenario's groups) are slipped in, one every ``planted_every`` records.
    The retailers in ``via_gateway`` send their records and crime numbers through the retailer gateway instead.
    """
    names = TopicNames(settings)
    simulator = Simulator(StoreRegistry.load(settings.stores_file), seed=seed, fault_rate=fault_rate)
    stop = stop or threading.Event()
    sent = 0  # the simulator's records: the pace and the planting follow these
    published = [0]  # every record sent, planted ones included: what a live view may compare with what was stored
    started = time.monotonic()
    follow_ups: list[tuple[float, bytes, bytes]] = []
    chooser = random.Random(seed)
    gateways = via_gateway or {}
    last_flush = time.monotonic()
    with Publisher(settings.effective_kafka) as publisher:

        def send(record: Any) -> None:
            gateway = gateways.get(record.key.decode().partition(":")[0])
            if gateway is not None:
                gateway.submit(record.feed_format, record.value)
            else:
                publisher.send(names.raw[record.feed_format], record.value, key=record.key)
            published[0] += 1

        for record in simulator.records(count):
            if stop.is_set():
                break
            send(record)
            if planted and sent % planted_every == 0:
                send(planted.pop(0))
            if follow_up_seconds > 0 and record.later_crime_number and chooser.random() < 0.5:
                retailer, _, incident_id = record.key.decode().partition(":")
                update = json.dumps({"retailer": retailer, "incident_id": incident_id,
                                     "crime_reference": record.later_crime_number}).encode()
                due = time.monotonic() + chooser.uniform(follow_up_seconds / 4, follow_up_seconds)
                heapq.heappush(follow_ups, (due, record.key, update))
            while follow_ups and follow_ups[0][0] <= time.monotonic():
                _, key, update = heapq.heappop(follow_ups)
                retailer, _, incident_id = key.decode().partition(":")
                if retailer in gateways:
                    gateways[retailer].flush()  # the incident first
                    gateways[retailer].crime_number(incident_id, json.loads(update)["crime_reference"])
                else:
                    publisher.send(names.crime_number_updates, update, key=key)
            if gateways and time.monotonic() - last_flush > 0.5:  # a batch at least every half second
                for gateway in gateways.values():
                    gateway.flush()
                last_flush = time.monotonic()
            sent += 1
            if progress is not None:
                progress(published[0])
            if rate > 0:
                stop.wait(max(0.0, started + sent / rate - time.monotonic()))
        for gateway in gateways.values():
            gateway.flush()
    return published[0]
