"""crimelink's own per-incident work with no Kafka at all: the ceiling no transport tuning can pass.

The same steps as the default arrangement (one intake worker beside the worker), on the same records, in
one thread, each process's share timed apart:

- intake worker: normalise a batch as the normaliser does (``crimelink.streams.normalising.normalise_batch``: dead
  letters and their feedback serialised, incidents packed into the gate's envelope); take the envelope
  back from memory (``crimelink.streams.engine.envelopes.SentEnvelopes``); the crime-number gate; checked incident,
  feedback and compact case serialised and the cases packed;
- worker: the case envelope parsed (it comes from the other process); correlation; links/series/alerts
  serialised; the ClickHouse rows built from the checked incidents' and feedback JSON, the incidents' with their
  registrations and descriptions as keyed pseudonyms and the restricted ``incident_identities`` row beside them (the
  insert itself is left out: it runs on the store's own thread).

With both processes busy, the slower share bounds the rate. Used by bench/throughput.py, side by side with
the end-to-end run. Run on its own (``python -m bench.domain_work --count 10000``) it prints the cost of the
pseudonyms: the same records with them and with the rows built in clear (no identities row), rounds interleaved.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.linkage import Correlator, CorrelatorConfig
from crimelink.linkage.correlator import CorrelatorState
from crimelink.pseudonyms import Pseudonymiser
from crimelink.referral.gate import CrimeNumberGate
from crimelink.schemas.correlation import Case, CorrelateCases, correlation_commands
from crimelink.schemas.incident import Incident
from crimelink.settings import Settings
from crimelink.simulation.feed import SimulatedRecord, Simulator
from crimelink.sinks.tables import incident_identities, incidents, retailer_feedback
from crimelink.streams.engine.envelopes import CASES_HEAD, SentEnvelopes, pack_models
from crimelink.streams.engine.garbage import tune_garbage_collector
from crimelink.streams.normalising import normalise_batch
from crimelink.streams.topics import TopicNames

__all__ = ["DomainWork", "domain_work"]


@dataclass(frozen=True)
class DomainWork:
    """Seconds of single-threaded work, per process of the default arrangement."""

    intake: float
    worker: float

    @property
    def total(self) -> float:
        return self.intake + self.worker


class _InClear(Pseudonymiser):
    """What the rows cost before pseudonyms: every value kept as it is."""

    def of(self, kind: str, value: str) -> str:
        return value

    def description(self, description: dict[str, Any]) -> dict[str, Any]:
        return description


def domain_work(records: Sequence[SimulatedRecord], batch_size: int = 500, *, pseudonymised: bool = True) -> DomainWork:
    """Work for ``records``, with the worker's garbage-collector setting; ``pseudonymised=False``: the rows in clear
    and no ``incident_identities`` row, as before the pseudonyms."""
    pseudonyms = (Pseudonymiser if pseudonymised else _InClear)(secrets.token_bytes(32))
    tune_garbage_collector(Settings().worker.gc_young_threshold)
    normaliser = Normaliser(StoreRegistry.load())
    names = TopicNames(Settings())
    gate = CrimeNumberGate({}, deadline=timedelta(days=14), expired_retention=timedelta(days=365))
    correlator = Correlator(CorrelatorState.in_memory(), CorrelatorConfig())
    sent_incidents: SentEnvelopes[Incident] = SentEnvelopes()
    now = datetime.now(UTC)
    intake = worker = 0.0
    for first in range(0, len(records), batch_size):
        started = time.perf_counter()
        batch = normalise_batch(normaliser, [
            RawRecord(record.feed_format, record.value, "raw", 0, first + offset, now)
            for offset, record in enumerate(records[first:first + batch_size])
        ], names, 1)
        for_worker: list[tuple[list[bytes], list[bytes], list[bytes]]] = []
        for envelope, packed in batch.envelopes:
            sent_incidents.remember(envelope, packed)
            checked: list[bytes] = []
            feedback: list[bytes] = []
            cases: list[Case] = []
            for incident in sent_incidents.take(envelope) or []:
                outcome = gate.on_incident(incident, now)
                for item in outcome.checked:
                    checked.append(item.model_dump_json().encode())
                    cases.append(Case.from_incident(item))
                feedback.extend(entry.model_dump_json().encode() for entry in outcome.feedback)
            for_worker.append((checked, feedback, [case_envelope for case_envelope, _ in pack_models(cases, CASES_HEAD)]))
        handed_over = time.perf_counter()
        intake += handed_over - started
        for checked, feedback, case_envelopes in for_worker:
            for case_envelope in case_envelopes:
                command = correlation_commands.validate_json(case_envelope)
                assert isinstance(command, CorrelateCases)
                for case in command.cases:
                    linked = correlator.on_incident(case)
                    for produced in (*linked.links, *linked.series, *linked.alerts):
                        produced.model_dump_json()
            for value in checked:
                incident = orjson.loads(value)
                incidents.row(incident, pseudonyms)
                if pseudonymised:
                    incident_identities.row(incident, pseudonyms)
            for value in feedback:
                retailer_feedback.row(orjson.loads(value), pseudonyms)
        worker += time.perf_counter() - handed_over
    return DomainWork(intake, worker)


def main() -> None:
    parser = argparse.ArgumentParser(description="The cost of the keyed pseudonyms, side by side with rows in clear.")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=str, default=None)
    args = parser.parse_args()
    records = list(Simulator(StoreRegistry.load(), seed=3, fault_rate=0.04).records(args.count))
    worker_us: dict[str, list[float]] = {"pseudonymised": [], "in_clear": []}
    for _ in range(args.rounds):  # interleaved, so a noisy neighbour weighs on both alike
        for name, pseudonymised in (("in_clear", False), ("pseudonymised", True)):
            worker_us[name].append(domain_work(records, pseudonymised=pseudonymised).worker / args.count * 1e6)
    medians = {name: statistics.median(values) for name, values in worker_us.items()}
    result = {"count": args.count, "rounds": args.rounds,
              "worker_us_per_incident": {name: round(value, 1) for name, value in medians.items()},
              "pseudonyms_cost_us_per_incident": round(medians["pseudonymised"] - medians["in_clear"], 1),
              "ratio": round(medians["pseudonymised"] / medians["in_clear"], 3)}
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=1)


if __name__ == "__main__":
    main()
