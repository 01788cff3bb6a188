"""The worker's ClickHouse sink: every topic of record into its table (``crimelink.sinks.tables``), and alerts to
the webhooks once stored.

A service of the app; see ``crimelink.streams.engine.topic_sink`` for why it reads Kafka directly.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

from crimelink.access.audit import AuditEvent, Category, Outcome
from crimelink.access.principals import Principal
from crimelink.sinks.clickhouse import BatchSink
from crimelink.sinks.tables import STORED, alerts, sink_rejects
from crimelink.sinks.webhooks import WebhookNotifier
from crimelink.streams.audit import AuditTrail
from crimelink.streams.engine.membership import sink_group, static_member_id
from crimelink.streams.engine.topic_sink import Route, TopicSink
from crimelink.streams.wiring import Wiring

__all__ = ["install"]

WORKER = Principal("crimelink-worker", None, via="process")
"""Who discloses an alert to a webhook: the worker itself, on the operator's configuration."""


def install(app: Any, wiring: Wiring, trail: AuditTrail) -> WebhookNotifier:
    """Adds the sink service and the webhook delivery task to ``app``; returns the notifier. Each delivery is a
    disclosure, recorded in the access log with its recipient."""
    settings = wiring.settings

    async def delivered(url: str, payload: bytes, ok: bool, detail: str) -> None:
        await trail.record_quietly(AuditEvent(
            Category.DISCLOSURE, "webhook", WORKER, client="alert webhooks", object=_alert_id(payload),
            recipient=_without_credentials(url), outcome=Outcome.OK if ok else Outcome.FAILED, detail=detail, rows=1,
            justification="alert notification (CRIMELINK_ALERT_WEBHOOKS)"))

    notifier = WebhookNotifier(settings.sink.alert_webhooks, attempts=settings.sink.webhook_attempts,
                               on_result=delivered)

    def routes() -> list[Route]:
        store = wiring.store.store
        return [Route(getattr(wiring.names, table.topic or ""), BatchSink.for_table(store, table),
                      after=notifier.submit if table is alerts.TABLE else None) for table in STORED]

    @app.service
    class ClickHouseSink(TopicSink):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(
                bootstrap=settings.effective_kafka, group_id=sink_group(settings.kafka.app_id),
                group_instance_id=static_member_id(settings.kafka.app_id, "sink", settings.home),
                rejects=BatchSink.for_table(wiring.store.store, sink_rejects.TABLE),
                routes=routes(), run_blocking=wiring.store.call, batch_size=settings.sink.batch_size,
                flush_seconds=settings.sink.flush_seconds, fetch_max_wait_ms=settings.kafka.fetch_max_wait_ms, **kwargs,
            )

    @app.task
    async def deliver_webhooks() -> None:
        await notifier.run()

    return notifier


def _alert_id(payload: bytes) -> str:
    try:
        return str(orjson.loads(payload).get("alert_id", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return ""


def _without_credentials(url: str) -> str:
    parsed = urlsplit(url)
    return parsed._replace(netloc=parsed.hostname or "", query="").geturl() if parsed.password or parsed.query else url
