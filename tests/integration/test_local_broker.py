"""The local broker crimelink starts for the demo, the tests and the benchmarks."""

from pathlib import Path

import pytest

import crimelink.cli.broker
from crimelink.cli.broker import LocalBroker, fetch_broker
from crimelink.streams.kafka_io import declare_topics
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def test_a_cluster_id_that_begins_with_a_dash_still_formats_the_storage(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One random cluster id in 64 begins with "-", which the storage tool took for an option (a CI run failed so)."""
    monkeypatch.setattr(crimelink.cli.broker, "_cluster_id", lambda: "-" + "A" * 21)
    broker = LocalBroker(libs=fetch_broker(REPO / ".crimelink" / "kafka" / "dist"), data_dir=tmp_path / "kafka",
                         partitions=1)
    broker.start()
    try:
        assert declare_topics(broker.bootstrap, ["dash-check"], 1) == ["dash-check"]
    finally:
        broker.stop()
