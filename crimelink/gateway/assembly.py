"""The gateway's services, opened as it starts and closed as it stops: the same store registry, event window and
crime-number deadline as the worker, the topics declared, the answers read back, the access log."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from crimelink.access.users import UserRegistry
from crimelink.gateway.answers import AnswerBook
from crimelink.gateway.kafka_link import GatewayKafka
from crimelink.gateway.rates import RetailerRates
from crimelink.gateway.screening import Screen
from crimelink.gateway.service import Gateway
from crimelink.gateway.worker_reads import WorkerReads
from crimelink.intake.edges import EventWindow
from crimelink.intake.stores import StoreRegistry
from crimelink.settings import Settings
from crimelink.streams.audit import FLUSH_SECONDS, AuditTrail
from crimelink.streams.kafka_io import declare_topics
from crimelink.streams.topics import TopicNames

__all__ = ["open_gateway"]


@contextlib.asynccontextmanager
async def open_gateway(settings: Settings) -> AsyncIterator[tuple[Gateway, UserRegistry, AuditTrail]]:
    names = TopicNames(settings)
    bootstrap = settings.effective_kafka
    await asyncio.to_thread(declare_topics, bootstrap, names.all(), settings.kafka.topic_partitions, names.partitions,
                            names.configs, names.replication)  # a gateway started first makes them as the worker would
    book = AnswerBook(settings.gateway.resend_days * 86400)
    kafka = GatewayKafka(bootstrap, names.gateway_answers, book)
    await kafka.start()
    reads = WorkerReads(settings.gateway.worker_url or settings.web.url,
                        ca_file=str(settings.gateway.worker_ca_file) if settings.gateway.worker_ca_file else None)
    trail = AuditTrail(kafka.deliver, names.audit)
    screen = Screen(StoreRegistry.load(settings.stores_file), EventWindow.from_settings(settings.intake),
                    timedelta(seconds=settings.gate.pending_deadline_seconds))
    gateway = Gateway(settings.gateway, names, screen, book, kafka, reads,
                      RetailerRates(settings.gateway.rate_per_second, settings.gateway.rate_burst))

    async def flush_refusals() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await trail.flush()

    flushing = asyncio.create_task(flush_refusals(), name="gateway-access-log")
    try:
        yield gateway, UserRegistry(settings.users_file), trail
    finally:
        flushing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flushing
        with contextlib.suppress(Exception):
            await trail.flush()
        await reads.close()
        await kafka.stop()
