"""crimelink's own per-incident work with no Kafka at all: the ceiling no transport tuning can pass.

The same steps the worker runs, on the same records, in one thread: normalise a batch as the
worker's normaliser does (``streams.normalising.normalise_batch``: dead letters and their feedback
serialised, incidents packed into the gate's envelope); take the envelope back from memory
(``streams.envelopes.SentEnvelopes``, as a worker normalising in its own thread does); the
crime-number gate; checked incident, feedback and compact case serialised; the case envelope taken
back likewise; correlation; links/series/alerts serialised; the ClickHouse rows built from the
checked incidents' JSON (the insert itself is left out: it runs on the store's own thread). Used by
bench/throughput.py, side by side with the end-to-end run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson

from crimelink.correlation import Correlator, CorrelatorConfig
from crimelink.correlation.engine import CorrelatorState
from crimelink.gate import CrimeNumberGate
from crimelink.normalise import Normaliser, RawRecord
from crimelink.runtime import tune_garbage_collector
from crimelink.settings import Settings
from crimelink.simulate import SimulatedRecord
from crimelink.stores import StoreRegistry
from schemas.correlation import Case
from schemas.incident import Incident
from sinks.clickhouse import feedback_row, incident_row
from streams.envelopes import CASES_HEAD, SentEnvelopes, pack_models
from streams.normalising import normalise_batch
from streams.topic_names import TopicNames

__all__ = ["domain_seconds"]


def domain_seconds(records: Sequence[SimulatedRecord], batch_size: int = 500) -> float:
    """Seconds of single-threaded work for ``records``, with the worker's garbage-collector setting."""
    tune_garbage_collector(Settings().gc_young_threshold)
    normaliser = Normaliser(StoreRegistry.load())
    names = TopicNames(Settings())
    gate = CrimeNumberGate({}, deadline=timedelta(days=14), expired_retention=timedelta(days=365))
    correlator = Correlator(CorrelatorState.in_memory(), CorrelatorConfig())
    sent_incidents: SentEnvelopes[Incident] = SentEnvelopes()
    sent_cases: SentEnvelopes[Case] = SentEnvelopes()
    now = datetime.now(UTC)
    started = time.perf_counter()
    for first in range(0, len(records), batch_size):
        batch = normalise_batch(normaliser, [
            RawRecord(record.feed_format, record.value, "raw", 0, first + offset, now)
            for offset, record in enumerate(records[first:first + batch_size])
        ], names, 1)
        for envelope, packed in batch.envelopes:
            sent_incidents.remember(envelope, packed)
            checked, feedback, cases = [], [], []
            for incident in sent_incidents.take(envelope) or []:
                outcome = gate.on_incident(incident, now)
                for item in outcome.checked:
                    checked.append(item.model_dump_json())
                    cases.append(Case.from_incident(item))
                feedback.extend(entry.model_dump_json() for entry in outcome.feedback)
            for case_envelope, packed_cases in pack_models(cases, CASES_HEAD):
                sent_cases.remember(case_envelope, packed_cases)
                for case in sent_cases.take(case_envelope) or []:
                    outcome = correlator.on_incident(case)
                    for produced in (*outcome.links, *outcome.series, *outcome.alerts):
                        produced.model_dump_json()
            for value in checked:
                incident_row(orjson.loads(value))
            for value in feedback:
                feedback_row(orjson.loads(value))
    return time.perf_counter() - started
