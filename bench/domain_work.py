"""crimelink's own per-incident work with no Kafka at all: the ceiling no transport tuning can pass.

The same steps the worker runs, on the same records, in one thread: normalise; serialise into
the gate's envelope and parse it back; the crime-number gate; checked incident, feedback and
compact case serialised; the case envelope parsed; correlation; links/series/alerts serialised;
the ClickHouse rows built from the checked incidents' JSON (the insert itself is left out: it runs
on the store's own thread). Used by bench/throughput.py, side by side with the end-to-end run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from crimelink.correlation import Correlator, CorrelatorConfig
from crimelink.correlation.engine import CorrelatorState
from crimelink.gate import CrimeNumberGate
from crimelink.normalise import Normaliser, RawRecord
from crimelink.runtime import tune_garbage_collector
from crimelink.settings import Settings
from crimelink.simulate import SimulatedRecord
from crimelink.stores import StoreRegistry
from schemas.correlation import Case, CorrelateCases, correlation_commands
from schemas.incident import IncidentBatch
from schemas.outcomes import DeadLetter
from sinks.clickhouse import feedback_row, incident_row
from streams.envelopes import CASES_HEAD, INCIDENTS_HEAD, pack

__all__ = ["domain_seconds"]


def domain_seconds(records: Sequence[SimulatedRecord], batch_size: int = 500) -> float:
    """Seconds of single-threaded work for ``records``, with the worker's garbage-collector setting."""
    tune_garbage_collector(Settings().gc_young_threshold)
    normaliser = Normaliser(StoreRegistry.load())
    gate = CrimeNumberGate({}, deadline=timedelta(days=14), expired_retention=timedelta(days=365))
    correlator = Correlator(CorrelatorState.in_memory(), CorrelatorConfig())
    now = datetime.now(UTC)
    started = time.perf_counter()
    for first in range(0, len(records), batch_size):
        incidents = []
        for offset, record in enumerate(records[first:first + batch_size]):
            result = normaliser.normalise(RawRecord(record.feed_format, record.value, "raw", 0, first + offset, now))
            if isinstance(result, DeadLetter):
                result.model_dump_json()
            else:
                incidents.append(result.model_dump_json().encode())
        for envelope in pack(incidents, INCIDENTS_HEAD):
            checked, feedback, cases = [], [], []
            for incident in IncidentBatch.model_validate_json(envelope).incidents:
                outcome = gate.on_incident(incident, now)
                for item in outcome.checked:
                    checked.append(item.model_dump_json())
                    cases.append(Case.from_incident(item).model_dump_json().encode())
                feedback.extend(entry.model_dump_json() for entry in outcome.feedback)
            for case_envelope in pack(cases, CASES_HEAD):
                command = correlation_commands.validate_json(case_envelope)
                assert isinstance(command, CorrelateCases)
                for case in command.cases:
                    outcome = correlator.on_incident(case)
                    for produced in (*outcome.links, *outcome.series, *outcome.alerts):
                        produced.model_dump_json()
            for value in checked:
                incident_row(json.loads(value))
            for value in feedback:
                feedback_row(json.loads(value))
    return time.perf_counter() - started
