"""The worker's ClickHouse sink: every topic of record into its table (``crimelink.sinks.tables``), and alerts to
the webhooks once stored.

A service of the app; see ``crimelink.streams.engine.topic_sink`` for why it reads Kafka directly.
"""

from __future__ import annotations

from typing import Any

from crimelink.sinks.clickhouse import BatchSink
from crimelink.sinks.tables import STORED, alerts
from crimelink.sinks.webhooks import WebhookNotifier
from crimelink.streams.engine.topic_sink import Route, TopicSink
from crimelink.streams.wiring import Wiring

__all__ = ["install"]


def install(app: Any, wiring: Wiring) -> WebhookNotifier:
    """Adds the sink service and the webhook delivery task to ``app``; returns the notifier."""
    settings = wiring.settings
    notifier = WebhookNotifier(settings.sink.alert_webhooks, attempts=settings.sink.webhook_attempts)

    def routes() -> list[Route]:
        store = wiring.store.store
        return [Route(getattr(wiring.names, table.topic or ""), BatchSink.for_table(store, table),
                      after=notifier.submit if table is alerts.TABLE else None) for table in STORED]

    @app.service
    class ClickHouseSink(TopicSink):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(
                bootstrap=settings.effective_kafka_bootstrap, group_id=f"{settings.kafka.app_id}-clickhouse-sink",
                routes=routes(), run_blocking=wiring.store.call, batch_size=settings.sink.batch_size,
                flush_seconds=settings.sink.flush_seconds, fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms, **kwargs,
            )

    @app.task
    async def deliver_webhooks() -> None:
        await notifier.run()

    return notifier
