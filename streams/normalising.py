"""One batch of raw records -> the output the normaliser sends for it: plain code the normalise agent calls and
the domain-work benchmark times, wherever the agent runs (``crimelink.streams.engine.intake_workers``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.referral.gate import feedback_for_dead_letter
from crimelink.schemas.incident import Incident
from crimelink.schemas.outcomes import DeadLetter
from crimelink.streams.engine.envelopes import INCIDENTS_HEAD, pack_models, partition_for
from crimelink.streams.engine.record_batches import Output
from crimelink.streams.topics import TopicNames

__all__ = ["NormalisedBatch", "normalise_batch"]


@dataclass(slots=True)
class NormalisedBatch:
    output: Output = field(default_factory=Output)
    envelopes: list[tuple[bytes, list[Incident]]] = field(default_factory=list)
    """Each envelope in ``output`` with the incidents packed into it, for the gate to take back without parsing
    (``Wiring.sent_incidents``)."""


def normalise_batch(normaliser: Normaliser, records: list[RawRecord], names: TopicNames,
                    partitions: int) -> NormalisedBatch:
    """Incidents packed into one envelope per partition of ``names.normalised``; dead letters (and the retailer
    feedback they earn) one message each."""
    batch = NormalisedBatch()
    by_partition: defaultdict[int, list[Incident]] = defaultdict(list)
    for record in records:
        result = normaliser.normalise(record)
        if isinstance(result, DeadLetter):
            batch.output.add(names.dead_letters, result.key.encode(), result.model_dump_json().encode())
            feedback = feedback_for_dead_letter(result)
            if feedback is not None:
                batch.output.add(names.feedback, feedback.key.encode(), feedback.model_dump_json().encode())
        else:
            by_partition[partition_for(result.key.encode(), partitions)].append(result)
    for partition, incidents in by_partition.items():
        for envelope, packed in pack_models(incidents, INCIDENTS_HEAD):
            batch.output.add(names.normalised, None, envelope, partition)
            batch.envelopes.append((envelope, packed))
    return batch
