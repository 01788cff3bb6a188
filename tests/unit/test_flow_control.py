"""Resuming flow that is already running must keep what agents have queued (streams/engine/flow_control.py)."""

from __future__ import annotations

import pytest
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from crimelink.settings import KafkaSettings, Settings
from crimelink.streams.app import create_app
from crimelink.streams.engine.flow_control import KeepQueuedFlowControl


def _queue(flow_control: FlowControlEvent) -> FlowControlQueue[str]:
    return FlowControlQueue(flow_control=flow_control, clear_on_resume=True)


def test_resuming_running_flow_keeps_queued_records() -> None:
    flow_control = KeepQueuedFlowControl()
    queue = _queue(flow_control)
    flow_control.resume()
    queue.put_nowait("fetched before the seek")
    flow_control.resume()  # recovery's last resume after seeking to the committed offsets
    assert queue.qsize() == 1 and flow_control.is_active()


def test_resuming_after_a_suspension_still_clears() -> None:
    flow_control = KeepQueuedFlowControl()
    queue = _queue(flow_control)
    queue.put_nowait("from before the start")
    flow_control.resume()  # starts suspended: the first resume is a real one
    assert queue.qsize() == 0
    queue.put_nowait("from the revoked assignment")
    flow_control.suspend()
    assert not flow_control.is_active()
    flow_control.resume()
    assert queue.qsize() == 0 and flow_control.is_active()


@pytest.mark.parametrize("kind", [FlowControlEvent, KeepQueuedFlowControl])
def test_stock_flow_control_is_what_drops_them(kind: type[FlowControlEvent]) -> None:
    """If mode stops clearing on a second resume, KeepQueuedFlowControl can go."""
    flow_control = kind()
    queue = _queue(flow_control)
    flow_control.resume()
    queue.put_nowait("fetched before the seek")
    flow_control.resume()
    assert queue.qsize() == (0 if kind is FlowControlEvent else 1)


def test_the_app_uses_it() -> None:
    app = create_app(Settings(kafka=KafkaSettings(bootstrap="127.0.0.1:1")))
    assert isinstance(app.flow_control, KeepQueuedFlowControl)
