"""Each retailer submits only as itself, on the secured broker: a retailer's own login writes its own channel
(``crimelink.retailer.<id>.*``) and nothing else, and what arrives there is that retailer's whatever it claims.

The attacks of the issue, each refused here: another retailer's login making a held incident referable with a made-up
crime number, publishing an incident for another retailer, and replacing another retailer's incident with revision
99 — on crimelink's own topics (the broker refuses the write), or on its own channel (a ``retailer-mismatch`` dead
letter, reported to the channel's owner, and nothing changed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.errors import KafkaError

from crimelink.cli.broker import SERVICE_USER, LocalBroker
from crimelink.settings import KafkaSettings
from crimelink.streams.kafka_io import Publisher, read_topic
from tests.conftest import RunningWorker, grocer_record, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def worker(secure_broker: LocalBroker, tmp_path: Path) -> Iterator[RunningWorker]:
    running = RunningWorker(KafkaSettings(**secure_broker.client(SERVICE_USER)), tmp_path / "worker",
                            CRIMELINK_KAFKA_RETAILER_CHANNELS="northway,quikmart")
    for retailer in ("northway", "quikmart"):
        secure_broker.add_retailer(retailer, running.env["CRIMELINK_TOPIC_PREFIX"])
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _as(broker: LocalBroker, retailer: str) -> KafkaSettings:
    return KafkaSettings(**broker.client(f"retailer-{retailer}"))


def _write(login: KafkaSettings, topic: str, value: dict[str, object] | bytes) -> None:
    """Send one message and wait for the broker's answer (an authorisation error raises)."""
    with Publisher(login) as publisher:
        publisher.send(topic, value if isinstance(value, bytes) else json.dumps(value).encode()).get(timeout=20)


def _refused(login: KafkaSettings, topic: str) -> bool:
    try:
        _write(login, topic, b"{}")
    except KafkaError as error:
        return "Authorization" in type(error).__name__ or "Authorization" in str(error)
    return False


def _record(incident_id: str, reference: str | None, revision: int = 1) -> dict[str, object]:
    return grocer_record(incident={"id": incident_id, "revision": revision}, police={"crime_reference": reference})


def _latest(worker: RunningWorker) -> dict[tuple[str, str], tuple[int, str, str, str]]:
    rows = worker.query("SELECT retailer, incident_id, revision, eligibility, crime_ref_source, crime_ref_via "
                        "FROM incidents_latest").rows
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def test_the_broker_lets_a_retailer_write_its_own_channel_only(worker: RunningWorker, secure_broker: LocalBroker) -> None:
    quikmart = _as(secure_broker, "quikmart")
    own, other = worker.topics.channel("quikmart"), worker.topics.channel("northway")
    _write(quikmart, own.raw["national_grocer"], b"{}")  # its own: accepted (and dead-lettered: not a record)
    assert _refused(quikmart, other.raw["national_grocer"])
    assert _refused(quikmart, other.crime_number_updates)
    assert _refused(quikmart, worker.topics.raw["national_grocer"])  # crimelink's own, the gateway's
    assert _refused(quikmart, worker.topics.crime_number_updates)
    assert _refused(quikmart, worker.topics.checked)  # and nothing downstream
    with pytest.raises(Exception, match="Authorization|authoriz"):  # it cannot read, not even its own channel
        list(read_topic(quikmart, own.raw["national_grocer"], expect=1, timeout=8))


def test_what_a_retailer_sends_for_another_is_set_aside_and_changes_nothing(worker: RunningWorker,
                                                                            secure_broker: LocalBroker) -> None:
    northway, quikmart = _as(secure_broker, "northway"), _as(secure_broker, "quikmart")
    northway_channel, quikmart_channel = worker.topics.channel("northway"), worker.topics.channel("quikmart")
    _write(northway, northway_channel.raw["national_grocer"], _record("NW-HELD", None))
    _write(northway, northway_channel.raw["national_grocer"], _record("NW-OK", "SX/12345678/25"))
    wait_until(lambda: {key: row[1] for key, row in _latest(worker).items()}
               == {("northway", "NW-HELD"): "pending", ("northway", "NW-OK"): "referable"},
               message="northway's two incidents stored")

    # quikmart, on its own channel, tries each attack against northway.
    _write(quikmart, quikmart_channel.crime_number_updates,
           {"retailer": "northway", "incident_id": "NW-HELD", "crime_reference": "NFRC999999999"})
    _write(quikmart, quikmart_channel.raw["national_grocer"],
           _record("NW-OK", None, revision=99))
    _write(quikmart, quikmart_channel.raw["national_grocer"], _record("NW-NEW", "SX/12345678/25"))
    wait_until(lambda: worker.scalar("SELECT count() FROM dead_letters") >= 3, message="the three set aside")
    letters = worker.query("SELECT retailer, reason_problems, topic FROM dead_letters ORDER BY topic").rows
    assert [(row[0], list(row[1])) for row in letters] == [("quikmart", ["retailer-mismatch"])] * 3
    assert {row[2] for row in letters} == {quikmart_channel.crime_number_updates, quikmart_channel.raw["national_grocer"]}

    # northway's own update releases its incident, and the crime number says where it came from.
    _write(northway, northway_channel.crime_number_updates,
           {"retailer": "northway", "incident_id": "NW-HELD", "crime_reference": "SX/87654321/25"})
    wait_until(lambda: _latest(worker)[("northway", "NW-HELD")][1] == "referable", message="NW-HELD released")
    latest = _latest(worker)
    assert set(latest) == {("northway", "NW-HELD"), ("northway", "NW-OK")}  # no NW-NEW
    assert latest[("northway", "NW-OK")] == (1, "referable", "retailer-report", "")  # not replaced by revision 99
    revision, _, source, via = latest[("northway", "NW-HELD")]
    assert (revision, source) == (1, "retailer-update")
    assert via.startswith(f"{northway_channel.crime_number_updates}/") and via.endswith("kafka:retailer:northway")

    # quikmart hears of each refusal, northway of nothing it did not do.
    feedback = [json.loads(value) for _, value in read_topic(worker.bootstrap, worker.topics.feedback, expect=6)]
    refused = [entry for entry in feedback if entry["status"] == "rejected"]
    assert sorted(entry["retailer"] for entry in refused) == ["quikmart"] * 3
    assert all("retailer-mismatch" in entry["reason"] or "northway" in entry["action"] for entry in refused)
