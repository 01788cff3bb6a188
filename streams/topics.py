"""Every topic crimelink uses, in one place: all names (``names``), and the Faust topics agents consume.
Raw topics come from the registered feed adapters. Agents write through ``streams.output`` by name.

Payloads are bytes on the wire (JSON written and read by the pydantic models in ``schemas``),
so agents can parse and serialise a whole batch at once.
"""

from __future__ import annotations

from faust import TopicT

from crimelink.settings import get_settings
from streams.app import app
from streams.topic_names import TopicNames

__all__ = ["TopicNames", "names", "raw", "crime_number_updates", "gate_input", "correlation_in"]


def _bytes_topic(*topic_names: str) -> TopicT:
    return app.topic(*topic_names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


names = TopicNames(get_settings())
raw = _bytes_topic(*names.raw.values())
crime_number_updates = _bytes_topic(names.crime_number_updates)
gate_input = _bytes_topic(names.normalised, names.gate_commands)  # both keyed by incident: co-partitioned
correlation_in = app.topic(names.correlation_in, partitions=1, key_type=bytes, value_type=bytes, key_serializer="raw",
                           value_serializer="raw")
