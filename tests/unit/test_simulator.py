from collections import Counter
from datetime import UTC, datetime

from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.referral.gate import apply_gate
from crimelink.schemas.outcomes import DeadLetter
from crimelink.simulation.feed import Simulator

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_same_seed_same_feed() -> None:
    registry = StoreRegistry.load()
    first = [r.value for r in Simulator(registry, seed=3, now=NOW).records(50)]
    second = [r.value for r in Simulator(registry, seed=3, now=NOW).records(50)]
    assert first == second


def test_every_simulated_record_ends_where_its_fault_says() -> None:
    registry = StoreRegistry.load()
    normaliser = Normaliser(registry)
    outcomes: Counter[str] = Counter()
    retailers = set()
    for record in Simulator(registry, seed=11, fault_rate=0.1, now=NOW).records(1500):
        result = normaliser.normalise(RawRecord(record.feed_format, record.value, "t", 0, 0, NOW))
        if record.fault is None:
            assert not isinstance(result, DeadLetter), result
            outcomes[apply_gate(result).eligibility.value] += 1
            retailers.add(result.retailer)
        else:
            assert isinstance(result, DeadLetter), record
            outcomes["rejected"] += 1
    assert set(outcomes) == {"referable", "pending", "invalid", "rejected"}
    assert outcomes["referable"] > outcomes["pending"] > outcomes["invalid"] > 0
    assert len(retailers) == 8


def test_records_are_keyed_by_retailer_and_incident_in_every_format() -> None:
    registry = StoreRegistry.load()
    normaliser = Normaliser(registry)
    formats = set()
    for record in Simulator(registry, seed=1, fault_rate=0, now=NOW).records(60):
        incident = normaliser.normalise(RawRecord(record.feed_format, record.value, "t", 0, 0, NOW))
        assert not isinstance(incident, DeadLetter)
        assert record.key == incident.key.encode()
        formats.add(record.feed_format)
    assert formats == {"national_grocer", "convenience_flat", "bcp_csv"}
