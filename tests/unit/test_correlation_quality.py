"""The correlation quality benchmark at a tiny size: it still runs, and the planted groups are still found."""

from bench.correlation_quality import evaluate
from crimelink.intake.stores import StoreRegistry
from crimelink.simulation.scenarios import OrcScenario


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

    rows = measure([100, 300], 20, _cases(100, seed=1), rounds=4)
    assert [row["held"] for row in rows] == [100, 300]
    for row in rows:
        assert len(row["us_per_round"]) == len(row["cpu_us_per_round"]) == 4  # the sizes took turns, slice by slice
        assert row["us_per_incident"] > 0 and row["bytes_per_incident_held"] > 0
