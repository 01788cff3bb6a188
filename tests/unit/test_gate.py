"""The crime-number gate's held state, on a plain dict (the worker uses a Faust table)."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crimelink.intake.normalise import Normaliser, RawRecord
from crimelink.intake.stores import StoreRegistry
from crimelink.referral.gate import CrimeNumberGate, feedback_for_dead_letter
from crimelink.schemas.incident import CrimeNumberSource, Eligibility, Incident
from crimelink.schemas.outcomes import CrimeNumberUpdate, DeadLetter, FeedbackStatus
from tests.conftest import CountingReads, grocer_record

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = timedelta(days=14)


def _incident(crime_reference: str | None, revision: int = 1, incident_id: str = "NW-1") -> Incident:
    record = grocer_record(incident={"id": incident_id, "revision": revision}, police={"crime_reference": crime_reference})
    result = Normaliser(StoreRegistry.load()).normalise(
        RawRecord("national_grocer", json.dumps(record).encode(), "raw", 0, 0, T0))
    assert isinstance(result, Incident)
    return result


@pytest.fixture
def held() -> dict[str, Any]:
    return {}


@pytest.fixture
def gate(held: dict[str, Any]) -> CrimeNumberGate:
    return CrimeNumberGate(held, deadline=DEADLINE, expired_retention=timedelta(days=365))


def _update(reference: str, incident_id: str = "NW-1") -> CrimeNumberUpdate:
    return CrimeNumberUpdate(retailer="northway", incident_id=incident_id, crime_reference=reference)


def test_valid_crime_number_is_referable_and_nothing_is_held(gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    outcome = gate.on_incident(_incident("SX/12345678/25"), T0)
    assert [i.eligibility for i in outcome.checked] == [Eligibility.REFERABLE]
    assert outcome.feedback[0].status is FeedbackStatus.REFERABLE and outcome.feedback[0].action == ""
    assert held == {}


@pytest.mark.parametrize("reference,eligibility", [(None, Eligibility.PENDING), ("INC-4411", Eligibility.PENDING),
                                                   ("12", Eligibility.INVALID)])
def test_without_a_valid_number_the_incident_is_stored_and_held(
    gate: CrimeNumberGate, held: dict[str, Any], reference: str | None, eligibility: Eligibility
) -> None:
    outcome = gate.on_incident(_incident(reference), T0)
    (checked,) = outcome.checked
    assert checked.eligibility is eligibility
    assert checked.pending_deadline == T0 + DEADLINE
    assert list(held) == ["northway:NW-1"]
    assert "2025-03-15 12:00" in outcome.feedback[0].action


def test_an_update_releases_a_held_incident(gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    gate.on_incident(_incident(None), T0)
    outcome = gate.on_update(_update("sx 12345678 25".replace(" ", "/")), T0 + timedelta(days=2))
    (released,) = outcome.checked
    assert released.eligibility is Eligibility.REFERABLE
    assert released.crime_reference.normalised == "SX/12345678/25"
    assert released.status_changed_at == T0 + timedelta(days=2)
    assert released.revision == 1
    marker = gate.state("northway:NW-1")  # no longer held; remembered as released, with what released it
    assert marker is not None and marker.kind == "released" and marker.incident is None and marker.revision == 1
    assert marker.crime_reference is not None and marker.crime_reference.normalised == "SX/12345678/25"


def test_a_new_revision_with_the_number_releases_it_too(gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    gate.on_incident(_incident("INC-1"), T0)
    outcome = gate.on_incident(_incident("SX/12345678/25", revision=2), T0 + timedelta(hours=5))
    assert outcome.checked[0].eligibility is Eligibility.REFERABLE
    marker = gate.state("northway:NW-1")
    assert marker is not None and marker.kind == "released" and marker.revision == 2


def test_a_released_revision_read_again_stays_referable_and_is_not_held_again(
        gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    """A retailer's resend, or a replay after a restart, of the record an update released."""
    gate.on_incident(_incident(None), T0)
    gate.on_update(_update("SX/12345678/25"), T0 + timedelta(days=2))
    outcome = gate.on_incident(_incident(None), T0 + timedelta(days=3))
    (again,) = outcome.checked
    assert again.eligibility is Eligibility.REFERABLE and again.crime_reference.normalised == "SX/12345678/25"
    assert outcome.feedback[0].status is FeedbackStatus.REFERABLE
    marker = gate.state("northway:NW-1")
    assert marker is not None and marker.kind == "released"  # not held again
    assert gate.due(T0 + DEADLINE + timedelta(days=1)) == []  # so it never expires either


def test_after_a_release_an_older_revision_is_history_and_a_newer_one_is_checked_afresh(gate: CrimeNumberGate) -> None:
    gate.on_incident(_incident(None, revision=2), T0)
    gate.on_update(_update("SX/12345678/25"), T0 + timedelta(hours=1))
    older = gate.on_incident(_incident(None, revision=1), T0 + timedelta(hours=2))
    assert older.feedback == [] and older.checked[0].revision == 1
    newer = gate.on_incident(_incident(None, revision=3), T0 + timedelta(hours=3))  # drops the number: held anew
    assert newer.checked[0].eligibility is Eligibility.PENDING
    assert newer.checked[0].pending_deadline == T0 + timedelta(hours=3) + DEADLINE
    state = gate.state("northway:NW-1")
    assert state is not None and state.kind == "held"


def test_an_update_after_the_release_is_answered_and_changes_nothing(gate: CrimeNumberGate) -> None:
    gate.on_incident(_incident(None), T0)
    gate.on_update(_update("SX/12345678/25"), T0 + timedelta(hours=1))
    outcome = gate.on_update(_update("SX/87654321/25"), T0 + timedelta(hours=2))
    assert outcome.checked == [] and outcome.feedback[0].status is FeedbackStatus.UPDATE_IGNORED
    assert "already referable with crime number SX/12345678/25" in outcome.feedback[0].reason


def test_released_markers_are_forgotten_after_their_retention(gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    gate.on_incident(_incident(None), T0)
    gate.on_update(_update("SX/12345678/25"), T0 + timedelta(hours=1))
    later = T0 + timedelta(hours=1, days=365)
    assert gate.due(later) == ["northway:NW-1"]
    assert gate.on_expire("northway:NW-1", later).checked == []
    assert held == {}


def test_a_bad_update_keeps_it_held_with_the_original_deadline(gate: CrimeNumberGate) -> None:
    gate.on_incident(_incident(None), T0)
    outcome = gate.on_update(_update("99"), T0 + timedelta(days=3))
    assert outcome.checked[0].eligibility is Eligibility.INVALID
    assert outcome.checked[0].pending_deadline == T0 + DEADLINE
    assert outcome.feedback[0].action.startswith("send the corrected crime number")


def test_expiry_after_the_deadline_only(gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    gate.on_incident(_incident(None), T0)
    assert gate.due(T0 + DEADLINE - timedelta(seconds=1)) == []
    assert gate.on_expire("northway:NW-1", T0 + timedelta(days=1)).checked == []
    due = gate.due(T0 + DEADLINE)
    assert due == ["northway:NW-1"]
    outcome = gate.on_expire(due[0], T0 + DEADLINE)
    (expired,) = outcome.checked
    assert expired.eligibility is Eligibility.EXPIRED and "never referable" in expired.eligibility_reason
    assert outcome.feedback[0].status is FeedbackStatus.EXPIRED
    marker = gate.state("northway:NW-1")
    assert marker is not None and marker.kind == "expired" and marker.incident is None


def test_expired_incidents_never_become_referable(gate: CrimeNumberGate) -> None:
    gate.on_incident(_incident(None), T0)
    gate.on_expire("northway:NW-1", T0 + DEADLINE)
    late_update = gate.on_update(_update("SX/12345678/25"), T0 + DEADLINE + timedelta(hours=1))
    assert late_update.checked == [] and late_update.feedback[0].status is FeedbackStatus.UPDATE_IGNORED
    late_revision = gate.on_incident(_incident("SX/12345678/25", revision=2), T0 + DEADLINE + timedelta(hours=2))
    assert late_revision.checked[0].eligibility is Eligibility.EXPIRED


def test_expired_markers_are_forgotten_after_their_retention(gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    gate.on_incident(_incident(None), T0)
    gate.on_expire("northway:NW-1", T0 + DEADLINE)
    later = T0 + DEADLINE + timedelta(days=366)
    assert gate.due(later) == ["northway:NW-1"]
    assert gate.on_expire("northway:NW-1", later).checked == []
    assert held == {}


def test_an_update_for_an_unknown_incident_is_answered_once_it_has_waited_a_day(
        gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    assert gate.on_update(_update("SX/12345678/25", incident_id="NOPE"), T0).feedback == []  # parked, not refused
    assert gate.due(T0 + timedelta(hours=23)) == []
    (due,) = gate.due(T0 + timedelta(hours=24, seconds=1))
    outcome = gate.on_expire(due, T0 + timedelta(hours=24, seconds=1))
    assert outcome.checked == []
    assert outcome.feedback[0].status is FeedbackStatus.UPDATE_IGNORED
    assert "no incident with this id arrived within 24 hours" in outcome.feedback[0].reason
    assert held == {}


def test_an_update_read_before_its_incident_is_applied_when_the_incident_arrives(
        gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    """Updates and incidents travel on different topics: under load one in five updates was read first and dropped."""
    gate.on_update(_update("SX/12345678/25"), T0)
    outcome = gate.on_incident(_incident(None), T0 + timedelta(minutes=5))
    assert [(i.eligibility, i.crime_reference.normalised) for i in outcome.checked] == [
        (Eligibility.REFERABLE, "SX/12345678/25")]
    assert [f.status for f in outcome.feedback] == [FeedbackStatus.REFERABLE]
    assert json.loads(held["northway:NW-1"])["kind"] == "released"
    assert gate.due(T0 + timedelta(days=2)) == []  # the parked update's deadline went with it


def test_an_early_update_for_an_incident_that_arrives_referable_is_not_applied(gate: CrimeNumberGate) -> None:
    gate.on_update(_update("SX/99999999/25"), T0)
    outcome = gate.on_incident(_incident("SX/12345678/25"), T0 + timedelta(minutes=5))
    assert [i.crime_reference.normalised for i in outcome.checked] == ["SX/12345678/25"]
    assert [f.status for f in outcome.feedback] == [FeedbackStatus.REFERABLE, FeedbackStatus.UPDATE_IGNORED]


def test_a_message_read_again_after_a_restart_gives_the_same_feedback(gate: CrimeNumberGate) -> None:
    """The worker passes each message's own time as ``now``: a replay then repeats rows, which collapse when stored."""
    incident, update, later = _incident(None), _update("SX/12345678/25"), T0 + timedelta(minutes=5)
    first = [gate.on_incident(incident, T0).feedback, gate.on_update(update, later).feedback]
    again = [gate.on_incident(incident, T0).feedback, gate.on_update(update, later).feedback]
    assert again[1] == first[1] and again[1][0].status is FeedbackStatus.REFERABLE
    assert again[0][0].status is FeedbackStatus.REFERABLE  # the incident read again is not held again


def test_a_late_older_revision_does_not_replace_the_held_one(gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    gate.on_incident(_incident(None, revision=3), T0)
    outcome = gate.on_incident(_incident("SX/12345678/25", revision=2), T0 + timedelta(minutes=1))
    assert outcome.feedback == []
    state = gate.state("northway:NW-1")
    assert state is not None and state.incident is not None and state.incident.revision == 3


def test_rejected_records_feed_back_to_their_retailer() -> None:
    letter = Normaliser(StoreRegistry.load()).normalise(
        RawRecord("national_grocer", json.dumps(grocer_record(store={"id": "ZZ1"})).encode(), "raw", 0, 5, T0))
    assert isinstance(letter, DeadLetter)
    feedback = feedback_for_dead_letter(letter)
    assert feedback is not None and feedback.retailer == "northway" and feedback.status is FeedbackStatus.REJECTED
    assert "store registry" in feedback.action
    anonymous = Normaliser(StoreRegistry.load()).normalise(RawRecord("national_grocer", b"{", "raw", 0, 6, T0))
    assert isinstance(anonymous, DeadLetter) and feedback_for_dead_letter(anonymous) is None


def test_state_written_as_a_dict_by_earlier_versions_still_loads(gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    gate.on_incident(_incident(None), T0)
    assert isinstance(held["northway:NW-1"], str)  # held as one JSON string
    held["northway:NW-1"] = json.loads(held["northway:NW-1"])  # as a changelog from before might restore it
    outcome = gate.on_update(_update("SX/12345678/25"), T0 + timedelta(hours=1))
    assert [incident.eligibility for incident in outcome.checked] == [Eligibility.REFERABLE]
    marker = gate.state("northway:NW-1")
    assert marker is not None and marker.kind == "released"


def test_the_expiry_check_pops_what_is_due_without_reading_every_entry() -> None:
    held = CountingReads()
    gate = CrimeNumberGate(held, deadline=DEADLINE, expired_retention=timedelta(days=365))
    for n in range(5):
        gate.on_incident(_incident(None, incident_id=f"NW-{n}"), T0 + timedelta(hours=n))
    assert gate.due(T0) == [] and gate.due(T0 + DEADLINE + timedelta(hours=2)) == ["northway:NW-0", "northway:NW-1",
                                                                                   "northway:NW-2"]
    assert gate.due(T0 + DEADLINE + timedelta(hours=2)) == []  # each reported once: the expire command is on its way
    gate.on_incident(_incident(None, incident_id="NW-9"), T0 + timedelta(days=1))  # indexed as it is written
    assert gate.due(T0 + DEADLINE + timedelta(days=1)) == ["northway:NW-3", "northway:NW-4", "northway:NW-9"]
    assert held.whole_reads == 1


def test_a_key_reported_due_that_changed_meanwhile_is_watched_at_its_new_deadline(
        gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    gate.on_incident(_incident(None), T0)
    assert gate.due(T0 + DEADLINE) == ["northway:NW-1"]
    other = CrimeNumberGate(held, deadline=DEADLINE * 2, expired_retention=timedelta(days=365))
    other.on_incident(_incident(None, revision=2), T0 + timedelta(days=1))  # held for longer, past this gate's index
    assert gate.on_expire("northway:NW-1", T0 + DEADLINE).checked == []  # not due by what is stored now
    assert gate.due(T0 + DEADLINE * 2 - timedelta(seconds=1)) == []
    assert gate.due(T0 + DEADLINE * 2) == ["northway:NW-1"]


def test_state_restored_behind_the_gate_is_found_after_reindex(gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    gate.on_incident(_incident(None), T0)
    assert gate.due(T0) == []
    restored = {}
    CrimeNumberGate(restored, deadline=DEADLINE, expired_retention=timedelta(days=365)).on_incident(
        _incident(None, incident_id="NW-2"), T0)
    held.update(restored)  # as a Faust table's recovery writes it, past the gate
    held["northway:NW-3"] = json.loads(restored["northway:NW-2"])  # and as a changelog from before might hold it
    held["northway:NW-4"] = None  # the table's default value
    assert gate.due(T0 + DEADLINE) == ["northway:NW-1"]
    gate.reindex()
    assert sorted(gate.due(T0 + DEADLINE)) == ["northway:NW-1", "northway:NW-2", "northway:NW-3"]


def test_an_update_written_before_the_incident_it_releases_still_supersedes_it(gate: CrimeNumberGate) -> None:
    """Messages are decided at the time they were written; an incident's two topics come from different processes,
    so an update may be written before the incident's record that is read first. The release must still be the newer
    row, or the incident stays pending in incidents_latest."""
    pending = gate.on_incident(_incident(None), T0).checked[0]
    released = gate.on_update(_update("SX/12345678/25"), T0 - timedelta(seconds=2)).checked[0]
    assert released.eligibility is Eligibility.REFERABLE
    assert released.status_changed_at is not None and pending.status_changed_at is not None
    assert released.status_changed_at >= pending.status_changed_at


def test_each_crime_number_says_where_it_came_from(gate: CrimeNumberGate) -> None:
    """The report's own number, an update's (with the message and sender that carried it), one parked before its
    incident arrived, and a resend of a released revision keeping the update's."""
    reported = gate.on_incident(_incident("SX/12345678/25", incident_id="NW-R"), T0).checked[0].crime_reference
    assert (reported.source, reported.via) == (CrimeNumberSource.REPORT, "")
    gate.on_incident(_incident(None), T0)
    via = "t.retailer.northway.crime-number-updates/0/7 from kafka:retailer:northway"
    updated = gate.on_update(_update("SX/12345678/25"), T0 + timedelta(hours=1), via).checked[0].crime_reference
    assert (updated.source, updated.via) == (CrimeNumberSource.UPDATE, via)
    resent = gate.on_incident(_incident(None), T0 + timedelta(hours=2)).checked[0].crime_reference
    assert (resent.normalised, resent.source, resent.via) == ("SX/12345678/25", CrimeNumberSource.UPDATE, via)
    gate.on_update(_update("SX/12345678/25", incident_id="NW-EARLY"), T0, "early/0/1 from kafka:crimelink")
    early = gate.on_incident(_incident(None, incident_id="NW-EARLY"), T0 + timedelta(minutes=5)).checked[-1]
    assert early.eligibility is Eligibility.REFERABLE
    assert (early.crime_reference.source, early.crime_reference.via) == (CrimeNumberSource.UPDATE,
                                                                        "early/0/1 from kafka:crimelink")


def test_a_crime_number_a_force_entered_says_force_even_when_it_waited_for_its_incident(
        gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    via = "crimelink's web server from force user sussex-liaison"
    gate.on_incident(_incident(None), T0)
    entered = gate.on_update(_update("SX/12345678/25"), T0 + timedelta(hours=1), via, CrimeNumberSource.FORCE)
    assert entered.checked[0].eligibility is Eligibility.REFERABLE
    assert (entered.checked[0].crime_reference.source, entered.checked[0].crime_reference.via) == (
        CrimeNumberSource.FORCE, via)
    gate.on_update(_update("SX/12345678/25", incident_id="NW-EARLY"), T0, via, CrimeNumberSource.FORCE)
    assert json.loads(held["northway:NW-EARLY"])["update_source"] == "force"  # parked: the changelog keeps the source
    early = gate.on_incident(_incident(None, incident_id="NW-EARLY"), T0 + timedelta(minutes=5)).checked[-1]
    assert (early.eligibility, early.crime_reference.source) == (Eligibility.REFERABLE, CrimeNumberSource.FORCE)


def test_an_erased_incident_is_forgotten_and_a_resend_is_new(gate: CrimeNumberGate, held: dict[str, Any]) -> None:
    gate.on_incident(_incident(None), T0)
    assert gate.erase("northway:NW-1") and held == {} and gate.due(T0 + DEADLINE * 2) == []
    assert not gate.erase("northway:NW-1")
    again = gate.on_incident(_incident(None), T0 + timedelta(days=1))
    assert again.checked[0].pending_deadline == T0 + timedelta(days=1) + DEADLINE  # held afresh
