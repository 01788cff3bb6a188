"""The worker's ClickHouse sink: every topic of record into its table, and alerts to the webhooks.

Started with the app (``@app.service``); see ``sinks.topic_sink`` for why it reads Kafka directly.
"""

from __future__ import annotations

from typing import Any

from crimelink.settings import get_settings
from sinks.clickhouse import (
    ALERT_COLUMNS,
    DEAD_LETTER_COLUMNS,
    FEEDBACK_COLUMNS,
    INCIDENT_COLUMNS,
    LINK_COLUMNS,
    SERIES_COLUMNS,
    BatchSink,
    alert_row,
    dead_letter_row,
    feedback_row,
    incident_row,
    link_row,
    series_row,
)
from sinks.topic_sink import Route, TopicSink
from sinks.webhooks import WebhookNotifier
from streams import store, topics
from streams.app import app

__all__ = ["ClickHouseSink", "notifier", "deliver_webhooks"]

_settings = get_settings()
notifier = WebhookNotifier(_settings.alert_webhooks, attempts=_settings.webhook_attempts)


def _routes() -> list[Route]:
    names, clickhouse = topics.names, store.store()
    return [
        Route(names.checked, BatchSink(clickhouse, "incidents", INCIDENT_COLUMNS, incident_row)),
        Route(names.dead_letters, BatchSink(clickhouse, "dead_letters", DEAD_LETTER_COLUMNS, dead_letter_row)),
        Route(names.feedback, BatchSink(clickhouse, "retailer_feedback", FEEDBACK_COLUMNS, feedback_row)),
        Route(names.links, BatchSink(clickhouse, "links", LINK_COLUMNS, link_row)),
        Route(names.series, BatchSink(clickhouse, "series", SERIES_COLUMNS, series_row)),
        Route(names.alerts, BatchSink(clickhouse, "alerts", ALERT_COLUMNS, alert_row), after=notifier.submit),
    ]


@app.service
class ClickHouseSink(TopicSink):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            bootstrap=_settings.effective_kafka_bootstrap, group_id=f"{_settings.app_id}-clickhouse-sink",
            routes=_routes(), run_blocking=store.call, batch_size=_settings.sink_batch_size,
            flush_seconds=_settings.sink_flush_seconds, fetch_max_wait_ms=_settings.fetch_max_wait_ms, **kwargs,
        )


@app.task
async def deliver_webhooks() -> None:
    await notifier.run()
