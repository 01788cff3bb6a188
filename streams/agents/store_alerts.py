"""Alerts -> ClickHouse ``alerts`` (one insert per batch) and the configured webhooks (never blocking)."""

from __future__ import annotations

from crimelink.settings import get_settings
from schemas.correlation import Alert
from sinks.clickhouse import ALERT_COLUMNS, BatchSink, alert_row
from sinks.webhooks import WebhookNotifier
from streams import store, topics
from streams.app import app

__all__ = ["store_alerts", "notifier"]

_settings = get_settings()
notifier = WebhookNotifier(_settings.alert_webhooks, attempts=_settings.webhook_attempts)


@app.agent(topics.alerts)
async def store_alerts(stream):  # type: ignore[no-untyped-def]
    def notify(values: list[bytes]) -> None:
        for value in values:
            notifier.submit(value)

    await store.drain(stream, BatchSink(store.store(), "alerts", ALERT_COLUMNS, alert_row), Alert.model_validate_json,
                      after=notify)


@app.task
async def deliver_webhooks() -> None:
    await notifier.run()
