"""The Faust app, created once. Agents and web views attach to it from their own modules."""

from __future__ import annotations

import faust
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

from crimelink.settings import get_settings
from streams.changelog import OutputTable
from streams.flow_control import KeepQueuedFlowControl
from streams.transport import SCHEME

__all__ = ["app"]

_settings = get_settings()
_intake_only = _settings.worker_role == "intake"


def _modules() -> list[str]:
    """An intake worker (streams/intake_workers.py) normalises and gates, in a consumer group of its own; a worker that
    starts intake workers leaves all that to them."""
    intake = ["streams.agents.normalise", "streams.agents.gate", "streams.agents.crime_number_updates"]
    core = ["streams.agents.correlate", "streams.sink", "streams.web"]
    chosen = intake if _intake_only else core if _settings.intake_processes else [*core, *intake]
    return [*chosen, "streams.garbage"]


class _App(faust.App):
    @cached_property
    def flow_control(self) -> FlowControlEvent:
        """Faust's, except that resuming running flow keeps what is queued (streams/flow_control.py)."""
        return KeepQueuedFlowControl(loop=self.loop)


app = _App(
    f"{_settings.app_id}-intake" if _intake_only else _settings.app_id,
    broker=f"{SCHEME}://{_settings.effective_kafka_bootstrap}",
    store="memory://",
    Table=OutputTable,  # changelog records go out with each step's output (streams/changelog.py)
    datadir=str(_settings.home / ("faust-intake" if _intake_only else "faust")),
    autodiscover=_modules(),  # and no ``origin``: Faust would scan that whole package too, every agent with it
    topic_partitions=_settings.topic_partitions,
    topic_allow_declare=True,
    consumer_auto_offset_reset="earliest",
    consumer_group_instance_id=_settings.intake_instance if _intake_only else None,  # streams/intake_workers.py
    web_enabled=not _intake_only,
    web_bind=_settings.web_host,
    web_host=_settings.web_host,
    web_port=_settings.web_port,
    web_in_thread=False,
    producer_acks=-1,
    broker_commit_every=1000,
    broker_commit_interval=1.0,
)
