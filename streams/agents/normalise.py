"""Raw feed records -> canonical incidents (one envelope per batch and partition), or dead letters with the reason."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from crimelink.gate import feedback_for_dead_letter
from crimelink.normalise import Normaliser, RawRecord
from crimelink.settings import get_settings
from crimelink.stores import StoreRegistry
from schemas.incident import Incident
from schemas.outcomes import DeadLetter
from streams import topics
from streams.app import app
from streams.envelopes import INCIDENTS_HEAD, pack_models, partition_for, sent_incidents
from streams.output import Output, deliver

__all__ = ["normalise_feeds"]

_settings = get_settings()
_normaliser = Normaliser(StoreRegistry.load(_settings.stores_file))


@app.agent(topics.raw)
async def normalise_feeds(stream):  # type: ignore[no-untyped-def]
    """Each batch's output is delivered before the next is taken, so offsets never run ahead of it."""
    async for events in stream.take_events(_settings.batch_size, within=_settings.batch_seconds):
        received_at = datetime.now(UTC)
        output = Output()
        by_partition: defaultdict[int, list[Incident]] = defaultdict(list)
        for event in events:
            message = event.message
            feed = topics.names.feed_of(message.topic) or "unknown"
            result = _normaliser.normalise(RawRecord(
                feed, event.value or b"", message.topic, message.partition, message.offset, received_at,
            ))
            if isinstance(result, DeadLetter):
                output.add(topics.names.dead_letters, result.key.encode(), result.model_dump_json().encode())
                feedback = feedback_for_dead_letter(result)
                if feedback is not None:
                    output.add(topics.names.feedback, feedback.key.encode(), feedback.model_dump_json().encode())
            else:
                partition = partition_for(result.key.encode(), _settings.topic_partitions)
                by_partition[partition].append(result)
        for partition, incidents in by_partition.items():
            for envelope, packed in pack_models(incidents, INCIDENTS_HEAD):
                output.add(topics.names.normalised, None, envelope, partition)
                sent_incidents.remember(envelope, packed)
        await deliver(output)
