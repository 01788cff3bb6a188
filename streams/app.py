"""The Faust app, made by :func:`create_app` once per worker process; nothing is built at import.

The app installs what the process's role runs: an intake worker (``crimelink.streams.engine.intake_workers``)
normalises and gates, in a consumer group of its own; the worker correlates, stores and serves the web pages, and
also normalises and gates when it starts no intake workers (``CRIMELINK_INTAKE_PROCESSES=0``).
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

from crimelink.errors import ConfigurationError
from crimelink.settings import Settings
from crimelink.streams import sink, web
from crimelink.streams.agents import correlate, crime_number_updates, gate, normalise
from crimelink.streams.audit import AuditTrail
from crimelink.streams.engine import garbage
from crimelink.streams.engine.changelog import OutputTable
from crimelink.streams.engine.checkpoint import Delivery, Send
from crimelink.streams.engine.envelopes import SentEnvelopes
from crimelink.streams.engine.flow_control import KeepQueuedFlowControl
from crimelink.streams.engine.membership import static_member_id
from crimelink.streams.engine.transport import SCHEME
from crimelink.streams.engine.web_pages import MAX_REQUEST_BYTES, CrimelinkWeb
from crimelink.streams.erasure import IncidentEraser
from crimelink.streams.kafka_auth import faust_credentials
from crimelink.streams.store import StoreThread
from crimelink.streams.topics import TopicNames, faust_topics
from crimelink.streams.wiring import Wiring

__all__ = ["CrimelinkApp", "create_app"]


class CrimelinkApp(faust.App):  # type: ignore[misc]  # faust is untyped
    """Faust's app, carrying crimelink's settings and wiring for the engine layer's patches to read."""

    settings: Settings
    wiring: Wiring
    fetch_max_wait_ms: int  # read by crimelink.streams.engine.transport

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        """Faust's, except that resuming running flow keeps what is queued (``crimelink.streams.engine.flow_control``)."""
        return KeepQueuedFlowControl(loop=self.loop)

    def _new_web(self) -> CrimelinkWeb:
        """Faust's web driver without Faust's own pages (``crimelink.streams.engine.web_pages``)."""
        return CrimelinkWeb(self)


def create_app(settings: Settings, *, send: Send | None = None) -> CrimelinkApp:
    """The app for one process, with every agent, table, timer, service and page its role runs.

    ``send`` delivers each step's output; the default is the process's one producer (agent unit tests, which run the
    agents with Faust's ``test_context``, pass one that keeps what it is given)."""
    intake_only = settings.intake_only
    kafka = settings.kafka
    if not intake_only:
        web.check_listen_address(settings.web)
    app = CrimelinkApp(
        f"{kafka.app_id}-intake" if intake_only else kafka.app_id,
        broker=f"{SCHEME}://{settings.effective_kafka_bootstrap}",
        broker_credentials=faust_credentials(settings.effective_kafka),
        store="memory://",
        Table=OutputTable,  # changelog records go out with each step's output (crimelink.streams.engine.changelog)
        datadir=str(settings.home / ("faust-intake" if intake_only else "faust")),
        autodiscover=False,  # every module is installed below, by function
        topic_partitions=kafka.topic_partitions,
        topic_replication_factor=settings.effective_kafka.replication_factor,  # changelogs: as many copies as ours
        topic_allow_declare=True,
        table_standby_replicas=settings.worker.table_standby_replicas,
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=(settings.worker.intake_instance if intake_only  # engine/membership.py
                                    else static_member_id(kafka.app_id, "worker", settings.home)),
        web_enabled=not intake_only,
        web_bind=settings.web.host,
        web_host=settings.web.host,
        web_port=settings.web.port,
        web_in_thread=False,
        web_ssl_context=_tls_context(settings) if settings.web.tls and not intake_only else None,
        web_application_options={"client_max_size": MAX_REQUEST_BYTES},
        web_cors_options={},  # no CORS: no other site may read an answer
        producer_acks=-1,
        broker_session_timeout=kafka.session_timeout_seconds,  # how long a lost worker keeps its partitions
        broker_commit_every=1000,
        broker_commit_interval=1.0,
    )
    app.settings = settings
    app.fetch_max_wait_ms = kafka.fetch_max_wait_ms
    names = TopicNames(settings)
    delivery = Delivery(settings.effective_kafka, f"{kafka.app_id}-output")
    envelope_budget = settings.worker.sent_envelopes_mib * 1024 * 1024
    wiring = Wiring(settings=settings, names=names, topics=faust_topics(app, names), send=send or delivery,
                    sent_incidents=SentEnvelopes(envelope_budget), sent_cases=SentEnvelopes(envelope_budget),
                    store=StoreThread(settings))
    app.wiring = wiring

    if not intake_only:
        correlator = correlate.install(app, wiring)
        trail = AuditTrail(wiring.send, names.audit)
        sink.install(app, wiring, trail)
        web.install(app, wiring, trail, IncidentEraser(wiring, correlator))
    if intake_only or not settings.worker.intake_processes:
        normalise.install(app, wiring)
        gate.install(app, wiring)
        crime_number_updates.install(app, wiring)
    garbage.install(app, settings.worker.gc_freeze_seconds)

    @app.on_before_shutdown.connect
    async def _stop_delivery(sender: Any, **_: Any) -> None:
        await delivery.stop()

    return app


def _tls_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(settings.web.tls_cert), str(settings.web.tls_key))
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(f"cannot load the web server's TLS certificate {settings.web.tls_cert} and key "
                                 f"{settings.web.tls_key}: {error}") from error
    return context
