"""Every topic crimelink uses, in one place. Raw topics come from the registered feed adapters.

Payloads are bytes on the wire (JSON written and read by the pydantic models in ``schemas``),
so agents can parse and serialise a whole batch at once.
"""

from __future__ import annotations

from faust import TopicT

from crimelink.settings import get_settings
from streams.app import app
from streams.topic_names import TopicNames

__all__ = ["TopicNames", "names", "raw", "normalised", "checked", "dead_letters", "crime_number_updates",
           "gate_commands", "gate_input", "feedback", "correlation_in", "links", "series", "alerts"]


def _bytes_topic(*topic_names: str) -> TopicT:
    return app.topic(*topic_names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


names = TopicNames(get_settings())
raw = _bytes_topic(*names.raw.values())
normalised = _bytes_topic(names.normalised)
checked = _bytes_topic(names.checked)
dead_letters = _bytes_topic(names.dead_letters)
crime_number_updates = _bytes_topic(names.crime_number_updates)
gate_commands = _bytes_topic(names.gate_commands)
feedback = _bytes_topic(names.feedback)
gate_input = _bytes_topic(names.normalised, names.gate_commands)  # both keyed by incident: co-partitioned
correlation_in = app.topic(names.correlation_in, partitions=1, key_type=bytes, value_type=bytes, key_serializer="raw",
                           value_serializer="raw")
links = _bytes_topic(names.links)
series = _bytes_topic(names.series)
alerts = _bytes_topic(names.alerts)
