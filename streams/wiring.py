"""What the agents, services and pages of one app share: made once by ``crimelink.streams.app.create_app`` and handed
to each module's ``install``, so no module reads settings or builds anything at import."""

from __future__ import annotations

from dataclasses import dataclass

from crimelink.schemas.correlation import Case
from crimelink.schemas.incident import Incident
from crimelink.settings import Settings
from crimelink.streams.engine.checkpoint import Send
from crimelink.streams.engine.envelopes import SentEnvelopes
from crimelink.streams.store import StoreThread
from crimelink.streams.topics import FaustTopics, TopicNames

__all__ = ["Wiring"]


@dataclass(frozen=True)
class Wiring:
    settings: Settings
    names: TopicNames
    topics: FaustTopics
    send: Send
    """Delivers a step's output (the process's one producer; ``crimelink.streams.engine.checkpoint``)."""
    sent_incidents: SentEnvelopes[Incident]
    """Normaliser -> gate envelopes this process sent (``crimelink.streams.engine.envelopes``)."""
    sent_cases: SentEnvelopes[Case]
    """Gate -> correlator envelopes this process sent."""
    store: StoreThread
    """The ClickHouse connection and its thread; opened only by a process that stores (the worker)."""
