"""The correlation quality benchmark at a tiny size: it still runs, and the planted groups are still found."""

from bench.correlation_quality import evaluate
from crimelink.scenarios import OrcScenario
from crimelink.stores import StoreRegistry


def test_small_scenario_finds_the_groups_without_false_alerts() -> None:
    scenario = OrcScenario(StoreRegistry.load(), seed=5, background=800, travelling=2, steal_to_order=2, local=2,
                           lookalikes=10)
    results = evaluate(scenario)
    assert results["multi_region_groups"] == 4
    assert results["recall"] == 1.0
    assert results["false_alerts"] == 0
    assert results["second_region_incidents_to_alert_max"] <= 4


def test_growth_benchmark_runs_at_a_tiny_size() -> None:
    from bench.correlation_growth import _cases, measure

    row = measure(300, 20, _cases(100, seed=1))
    assert row["held"] == 300 and row["us_per_incident"] > 0 and row["bytes_per_incident_held"] > 0
