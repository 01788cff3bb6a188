"""InOrderDelivery: outputs go out in the order the steps were taken, each step's events are acknowledged only after
its own output, and a failed delivery stops the agent rather than being skipped."""

from __future__ import annotations

import asyncio

import pytest

from crimelink.streams.engine.checkpoint import InOrderDelivery, Output


class _Stream:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def ack(self, event: str) -> None:
        self.log.append(f"ack {event}")


def _output(name: str) -> Output:
    output = Output()
    output.add("t", None, name.encode())
    return output


def _name(output: Output) -> str:
    return output.records["t"][0][1].decode()


def test_a_slow_delivery_holds_back_the_later_steps_sends_and_acks() -> None:
    log: list[str] = []
    slow = {"a": 0.05, "b": 0.0, "c": 0.0}

    async def send(output: Output) -> None:
        name = _name(output)
        log.append(f"send {name}")
        await asyncio.sleep(slow[name])
        log.append(f"sent {name}")

    async def run() -> None:
        delivery = InOrderDelivery(_Stream(log), depth=3, send=send)
        for name in "abc":
            await delivery.submit([f"{name}1", f"{name}2"], _output(name))
        log.append("all submitted")  # the agent moved on while "a" was still on its way
        await asyncio.sleep(0.2)

    asyncio.run(run())
    assert log == ["all submitted",
                   "send a", "sent a", "ack a1", "ack a2",
                   "send b", "sent b", "ack b1", "ack b2",
                   "send c", "sent c", "ack c1", "ack c2"]


def test_submit_waits_while_depth_steps_are_in_flight() -> None:
    release = asyncio.Event()
    submitted: list[str] = []

    async def send(output: Output) -> None:
        await release.wait()

    async def run() -> None:
        delivery = InOrderDelivery(_Stream([]), depth=2, send=send)
        for name in "abc":
            submitted.append(name)
            if name == "c":
                asyncio.get_running_loop().call_later(0.05, release.set)
            await delivery.submit([name], _output(name))
            submitted.append(f"{name} taken")

    asyncio.run(asyncio.wait_for(run(), 5))
    assert submitted == ["a", "a taken", "b", "b taken", "c", "c taken"]
    assert release.is_set()  # "c" was taken only once "a" had been delivered


def test_a_failed_delivery_raises_and_its_events_and_the_later_ones_stay_unacknowledged() -> None:
    log: list[str] = []

    async def send(output: Output) -> None:
        if _name(output) == "a":
            raise ConnectionError("broker gone")

    async def run() -> None:
        delivery = InOrderDelivery(_Stream(log), depth=2, send=send)
        await delivery.submit(["a1"], _output("a"))
        await delivery.submit(["b1"], _output("b"))
        await asyncio.sleep(0.05)
        await delivery.submit(["c1"], _output("c"))

    with pytest.raises(ConnectionError, match="broker gone"):
        asyncio.run(run())
    assert log == []
