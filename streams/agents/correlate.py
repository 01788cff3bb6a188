"""Cases from the gate -> links, series and multi-region alerts. State in Faust tables (changelog-backed),
one partition, so every incident is compared with every relevant earlier one."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from crimelink.linkage import CorrelationOutcome, Correlator, CorrelatorConfig
from crimelink.linkage.correlator import CorrelatorState
from crimelink.schemas.correlation import CorrelateCases, EraseCase, correlation_commands
from crimelink.streams.engine.changelog import changelog_into
from crimelink.streams.engine.checkpoint import InOrderDelivery, Output
from crimelink.streams.topics import TopicNames
from crimelink.streams.wiring import Wiring

__all__ = ["install"]

log = logging.getLogger(__name__)

_IN_FLIGHT = 4
"""Commands correlated whose output, table writes included, is still on its way to the broker."""


def install(app: Any, wiring: Wiring) -> Correlator:
    """Adds the correlation agent and its tables to ``app``; returns the correlator."""
    linkage, names = wiring.settings.linkage, wiring.names

    def table(name: str) -> Any:
        return app.Table(name, default=None, partitions=1, extra_topic_configs=names.durability)

    state = CorrelatorState(
        cases=table("correlation-cases"),
        postings={},  # an index derived from the cases table: rebuilt in memory after a restart, no changelog
        series=table("correlation-series"),
        series_of=table("correlation-series-of"),
    )
    correlator = Correlator(state, CorrelatorConfig(
        window=timedelta(days=linkage.window_days),
        min_forces=linkage.alert_min_forces,
        min_regions=linkage.alert_min_regions,
    ))

    @state.cases.on_recover
    async def _rebuild_derived_state() -> None:
        """After a rebalance the cases table may hold what another worker wrote (the partition moved): the index and
        the parsed cases are rebuilt from it before the next command."""
        correlator.recovered()

    @app.agent(wiring.topics.correlation_in, name="correlate")
    async def correlate(stream):  # type: ignore[no-untyped-def]
        """Each command is acknowledged once its output, table writes included, is delivered (in order), so offsets
        never run ahead of it."""
        manual = stream.noack()
        delivery = InOrderDelivery(manual, _IN_FLIGHT, wiring.send)
        try:
            async for event in manual.events():
                output = Output()
                try:
                    cases = wiring.sent_cases.take(event.value)  # None unless this process sent it: then it is parsed
                    command = (CorrelateCases.model_construct(cases=cases) if cases is not None
                               else correlation_commands.validate_json(event.value))
                except Exception:  # noqa: BLE001 - crimelink wrote this message; a bug must not stop correlation
                    log.exception("correlation skipped offset %s", event.message.offset)
                    await delivery.submit([event], output)  # nothing to send, acknowledged in its turn
                    continue
                with changelog_into(output):
                    if isinstance(command, CorrelateCases):
                        for case in command.cases:
                            try:
                                _emit(correlator.on_incident(case), output, names)
                            except Exception:  # noqa: BLE001
                                log.exception("correlation skipped case %s at offset %s", case.key, event.message.offset)
                    elif isinstance(command, EraseCase):
                        _emit(correlator.erase(command.key), output, names)
                    try:
                        # After every command: what left the window as event time moved on is forgotten a few cases
                        # at a time, not a minute's worth at once (about 45 µs a case: at 2,000/s, seconds of stalled
                        # alerts).
                        _emit(correlator.sweep(), output, names)
                    except Exception:  # noqa: BLE001
                        log.exception("sweeping the correlation window failed at offset %s", event.message.offset)
                await delivery.submit([event], output)
        finally:
            delivery.cancel()

    return correlator


def _emit(outcome: CorrelationOutcome, output: Output, names: TopicNames) -> None:
    for link in outcome.links:
        output.add(names.links, link.id.encode(), link.model_dump_json().encode())
    for series in outcome.series:
        output.add(names.series, series.series_id.encode(), series.model_dump_json().encode())
    for alert in outcome.alerts:
        output.add(names.alerts, alert.alert_id.encode(), alert.model_dump_json().encode())
