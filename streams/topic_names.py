"""Topic names, importable without Faust (CLI, producers, tests); ``streams.topics`` builds on them."""

from __future__ import annotations

from crimelink.feeds import adapters
from crimelink.settings import Settings

__all__ = ["TopicNames"]


class TopicNames:
    """Topic names derived from settings; the CLI, producers and tests use these too."""

    def __init__(self, settings: Settings) -> None:
        prefix = settings.topic_prefix
        self.raw: dict[str, str] = {name: f"{prefix}raw.{name}" for name in sorted(adapters())}
        self.normalised = f"{prefix}incidents.normalised"
        self.checked = f"{prefix}incidents.checked"
        self.dead_letters = f"{prefix}deadletter"
        self.crime_number_updates = f"{prefix}crime-number-updates"  # retailers publish here
        self.gate_commands = f"{prefix}gate.commands"  # internal: updates and expiries, keyed by incident
        self.feedback = f"{prefix}feedback"  # per-retailer outcomes, keyed by retailer
        self.correlation_in = f"{prefix}correlation.in"  # one partition: correlation sees every incident
        self.links = f"{prefix}links"
        self.series = f"{prefix}series"
        self.alerts = f"{prefix}alerts"

    def feed_of(self, topic: str) -> str | None:
        """The feed format a raw topic carries."""
        return next((name for name, raw_topic in self.raw.items() if raw_topic == topic), None)

    def all(self) -> list[str]:
        return [*self.raw.values(), self.normalised, self.checked, self.dead_letters, self.crime_number_updates,
                self.gate_commands, self.feedback, self.correlation_in, self.links, self.series, self.alerts]

    def partitions(self, name: str, default: int) -> int:
        """Correlation state is global, so its input topic has one partition; the rest use the default."""
        return 1 if name == self.correlation_in else default
