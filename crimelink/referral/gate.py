"""The crime-number gate: referral eligibility, and incidents held until a crime number arrives.

A referral to the national unit needs a police crime number. An incident without a valid one
is stored at once as intelligence (pending or invalid) and *held*: a later revision or a
crime-number update releases it as referable; at the deadline it expires, stays intelligence,
and is never referable. An update that arrives before its incident (the two travel on different
topics, so under load or after a restart either may be read first) is *parked* until the incident
comes, for ``early_update`` (a day by default); only then is it answered "no such incident". The
held state is any mutable mapping (a Faust table in the worker, a dict in tests); this module knows
nothing about Kafka.

``now`` is the caller's: the worker passes the time crimelink received what it acts on (the record,
the update), so a message read again after a restart gets the same decision at the same time, and
the rows it produces again collapse into the first ones.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from crimelink.referral import crime_numbers
from crimelink.referral.crime_numbers import RuleTable
from crimelink.referral.deadlines import DeadlineIndex
from crimelink.schemas.incident import CrimeNumberSource, CrimeNumberStatus, CrimeReference, Eligibility, Incident, UtcDatetime
from crimelink.schemas.outcomes import CrimeNumberUpdate, DeadLetter, Feedback, FeedbackStatus
from crimelink.schemas.stored import load_stored

__all__ = ["apply_gate", "CrimeNumberGate", "GateOutcome", "HeldState", "feedback_for_dead_letter"]

_AWAITING = (Eligibility.PENDING, Eligibility.INVALID)


def apply_gate(incident: Incident, rules: RuleTable | None = None, now: datetime | None = None) -> Incident:
    """The incident with its crime reference checked and its eligibility set."""
    given = incident.crime_reference
    reference = crime_numbers.check(given.force_id, given.raw, rules).model_copy(
        update={"source": given.source, "via": given.via})
    eligibility, reason = crime_numbers.eligibility_for(reference)
    return incident.model_copy(update={
        "crime_reference": reference, "eligibility": eligibility, "eligibility_reason": reason,
        "status_changed_at": now or incident.received_at, "pending_deadline": None,
    })


class HeldState(BaseModel):
    """What the gate remembers per incident: held awaiting a crime number, expired, released from being held, or
    (before the incident itself arrived) a parked crime-number update.

    The released marker is why a record of that incident read again (a retailer's resend, a replay after a restart)
    does not hold it a second time: the gate forgets nothing else it would need to tell them apart.
    """

    kind: Literal["held", "expired", "released", "parked"]
    since: UtcDatetime
    deadline: UtcDatetime  # held: when it expires; parked: when the update stops waiting; a marker: when it is forgotten
    incident: Incident | None = None  # held only
    revision: int | None = None  # released: the revision that was released
    crime_reference: CrimeReference | None = None  # released: the valid reference that released it
    update: CrimeNumberUpdate | None = None  # parked only
    update_via: str = ""  # parked only: the message that carried the update, and who sent it
    update_source: CrimeNumberSource = CrimeNumberSource.UPDATE  # parked only: the retailer's update or a force's


@dataclass
class GateOutcome:
    checked: list[Incident] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)


class CrimeNumberGate:
    def __init__(self, held: MutableMapping[str, Any], *, deadline: timedelta, expired_retention: timedelta,
                 rules: RuleTable | None = None, early_update: timedelta = timedelta(days=1)) -> None:
        self._held = held
        self._deadline = deadline
        self._expired_retention = expired_retention
        self._early_update = early_update
        self._rules = rules
        self._deadlines = DeadlineIndex()
        self.reindex()

    def state(self, key: str) -> HeldState | None:
        return load_stored(HeldState, self._held.get(key))

    def _keep(self, key: str, state: HeldState) -> None:
        self._held[key] = state.model_dump_json()  # one string (crimelink.schemas.stored)
        self._deadlines.set(key, state.deadline)

    def _forget(self, key: str) -> None:
        if key in self._held:
            del self._held[key]
        self._deadlines.discard(key)

    def erase(self, key: str) -> bool:
        """Forget everything held of one incident (``crimelink erase``): held, parked, or a marker; whether there was
        any. A record of it read again later is gated afresh, as an incident never seen."""
        known = key in self._held
        self._forget(key)
        return known

    def on_incident(self, incident: Incident, now: datetime) -> GateOutcome:
        key = incident.key
        state = self.state(key)
        now = _not_before(now, state)
        if state is not None and state.kind == "parked":
            return self._with_parked_update(incident, state, now)
        if state is not None and state.kind == "expired":
            expired = self._expired(apply_gate(incident, self._rules, now), state.since)
            return GateOutcome([expired], [_feedback(expired, now)])
        if state is not None and state.incident is not None and state.incident.revision > incident.revision:
            # A late, older revision: stored as history, but the held newer revision stays in charge.
            return GateOutcome([apply_gate(incident, self._rules, now)], [])
        if state is not None and state.kind == "released" and state.revision is not None \
                and incident.revision <= state.revision:
            return self._released_again(incident, state, now)
        return self._settle(key, apply_gate(incident, self._rules, now), state, now)

    def on_update(self, update: CrimeNumberUpdate, now: datetime, via: str = "",
                  source: CrimeNumberSource = CrimeNumberSource.UPDATE) -> GateOutcome:
        """``via``: the message that carried the update and who sent it, and ``source``: the retailer or a force;
        both are kept on the crime number it gives."""
        state = self.state(update.key)
        now = _not_before(now, state)
        if state is None or state.kind == "parked":  # the incident is not here yet: wait for it
            self._keep(update.key, HeldState(kind="parked", since=now, deadline=now + self._early_update, update=update,
                                             update_via=via, update_source=source))
            return GateOutcome()
        if state.kind == "released" and state.since == now and state.crime_reference is not None \
                and state.revision is not None:
            # This very update released it, and is read again (a restart): the same answer as then, at the same time.
            return GateOutcome([], [Feedback(
                retailer=update.retailer, incident_id=update.incident_id, revision=state.revision,
                status=FeedbackStatus.REFERABLE, reason=f"valid crime number {state.crime_reference.normalised}",
                action="", at=now)])
        if state.kind == "released":
            assert state.crime_reference is not None
            return GateOutcome([], [Feedback(
                retailer=update.retailer, incident_id=update.incident_id, status=FeedbackStatus.UPDATE_IGNORED,
                reason=f"the incident is already referable with crime number {state.crime_reference.normalised}",
                action="to change the crime number, send a new revision of the incident", at=now)])
        if state.incident is None:  # expired
            return GateOutcome([], [Feedback(
                retailer=update.retailer, incident_id=update.incident_id, status=FeedbackStatus.UPDATE_IGNORED,
                reason="the incident expired without a valid crime number; it stays intelligence but can no longer "
                       "be referred", action="", at=now)])
        held = state.incident
        reference = held.crime_reference.model_copy(update={
            "raw": update.crime_reference, "force_id": update.force_id or held.crime_reference.force_id,
            "source": source, "via": via})
        updated = apply_gate(held.model_copy(update={"crime_reference": reference}), self._rules, now)
        return self._settle(update.key, updated, state, now)

    def on_expire(self, key: str, now: datetime) -> GateOutcome:
        state = self.state(key)
        if state is None or state.deadline > now:
            if state is not None:
                self._deadlines.set(key, state.deadline)  # not due after all (changed since): watch the real deadline
            return GateOutcome()
        if state.kind == "parked":
            assert state.update is not None
            self._forget(key)
            return GateOutcome([], [Feedback(
                retailer=state.update.retailer, incident_id=state.update.incident_id,
                status=FeedbackStatus.UPDATE_IGNORED,
                reason=f"no incident with this id arrived within {_hours(self._early_update)} of its crime-number "
                       "update", action="check the retailer and incident id, send the incident, then the update again",
                at=now)])
        if state.kind != "held":
            self._forget(key)  # the marker has served its retention period
            return GateOutcome()
        assert state.incident is not None
        expired = self._expired(state.incident.model_copy(update={"status_changed_at": now}), now)
        self._keep(key, HeldState(kind="expired", since=now, deadline=now + self._expired_retention))
        return GateOutcome([expired], [_feedback(expired, now)])

    def due(self, now: datetime) -> list[str]:
        """Keys whose deadline has passed (held incidents to expire, markers to forget), each reported once: the
        caller hands it to :meth:`on_expire`. Found in a deadline index, not by reading every entry."""
        return self._deadlines.pop_due(now)

    def reindex(self) -> None:
        """Build the deadline index again from the held state. Call it when the state changed other than through this
        gate: a Faust table recovered from its changelog after a rebalance (before its streams resume)."""
        self._deadlines.clear()
        for key, raw in list(self._held.items()):
            if raw is not None:  # the table's default, should a read ever have stored it
                self._deadlines.set(key, _deadline_of(raw))

    def _settle(self, key: str, checked: Incident, state: HeldState | None, now: datetime) -> GateOutcome:
        if checked.eligibility in _AWAITING:
            since = state.since if state is not None and state.kind == "held" else now
            deadline = since + self._deadline
            checked = checked.model_copy(update={"pending_deadline": deadline})
            self._keep(key, HeldState(kind="held", since=since, deadline=deadline, incident=checked))
        elif state is not None:  # it had been held (or released before): remember that it was released, and how
            self._keep(key, HeldState(kind="released", since=now, deadline=now + self._expired_retention,
                                      revision=checked.revision, crime_reference=checked.crime_reference))
        return GateOutcome([checked], [_feedback(checked, now)])

    def _with_parked_update(self, incident: Incident, parked: HeldState, now: datetime) -> GateOutcome:
        """The incident an early update was waiting for: gated as usual, then the update applied to it (one outcome:
        the incident as the update leaves it)."""
        assert parked.update is not None
        self._forget(incident.key)
        arrived = self._settle(incident.key, apply_gate(incident, self._rules, now), None, now)
        if arrived.checked[-1].eligibility in _AWAITING:
            return self.on_update(parked.update, now, parked.update_via, parked.update_source)
        reference = arrived.checked[-1].crime_reference
        arrived.feedback.append(Feedback(
            retailer=incident.retailer, incident_id=incident.incident_id, status=FeedbackStatus.UPDATE_IGNORED,
            reason=f"the incident arrived already referable with crime number {reference.normalised}; the update sent "
                   f"before it ({parked.update.crime_reference!r}) was not applied",
            action="to change the crime number, send a new revision of the incident", at=now))
        return arrived

    def _released_again(self, incident: Incident, state: HeldState, now: datetime) -> GateOutcome:
        """A record of a revision already released (or older) read again: it stays referable with the crime number
        that released it, and is not held again; an older revision is stored as history only."""
        assert state.crime_reference is not None and state.revision is not None
        checked = apply_gate(incident, self._rules, now)
        if incident.revision < state.revision:
            return GateOutcome([checked], [])
        if checked.eligibility in _AWAITING:
            reference = incident.crime_reference.model_copy(update={
                "raw": state.crime_reference.raw, "force_id": state.crime_reference.force_id,
                "source": state.crime_reference.source, "via": state.crime_reference.via})
            checked = apply_gate(incident.model_copy(update={"crime_reference": reference}), self._rules, now)
        return GateOutcome([checked], [_feedback(checked, now)])

    @staticmethod
    def _expired(incident: Incident, expired_at: datetime) -> Incident:
        return incident.model_copy(update={
            "eligibility": Eligibility.EXPIRED, "pending_deadline": None,
            "eligibility_reason": f"no valid crime number by {expired_at:%Y-%m-%d %H:%M} UTC; intelligence only, "
                                  "never referable",
        })


def _not_before(now: datetime, state: HeldState | None) -> datetime:
    """``now``, or the time of the incident's last change when that is later.

    Why: ``now`` is when crimelink received a message, and an incident's messages come on two topics (its records, its
    crime-number updates), read by different agents: an update can be received before the incident's record that is
    read before it. Decided at its own, earlier time, the release lost to the pending row it came after (the stored
    version is the revision, then the time). A message read again later is then decided at the time of the change it
    already made, so its rows are the same rows."""
    if state is None:
        return now
    changed = state.incident.status_changed_at if state.incident is not None else None
    latest = max(state.since, changed) if changed is not None else state.since
    return latest if latest > now else now


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


_DEADLINE_FIELD = '"deadline":"'


def _deadline_of(raw: str | dict[str, Any]) -> datetime:
    """A stored state's deadline without parsing the whole state (a held incident is about 2 KB of JSON): the field
    comes third in :class:`HeldState`'s JSON, before the incident."""
    if isinstance(raw, str):
        start = raw.find(_DEADLINE_FIELD, 0, 160)
        if start >= 0:
            start += len(_DEADLINE_FIELD)
            return datetime.fromisoformat(raw[start:raw.index('"', start)])
    return load_stored(HeldState, raw).deadline


def _feedback(incident: Incident, now: datetime) -> Feedback:
    reference = incident.crime_reference
    status = FeedbackStatus(incident.eligibility.value)
    deadline = incident.pending_deadline
    by = f" before {deadline:%Y-%m-%d %H:%M} UTC" if deadline else ""
    if status is FeedbackStatus.REFERABLE:
        reason, action = f"valid crime number {reference.normalised}", ""
    elif status is FeedbackStatus.EXPIRED:
        reason, action = incident.eligibility_reason, "make sure the crime is reported to the force"
    elif reference.status is CrimeNumberStatus.INVALID:
        reason, action = reference.reason, f"send the corrected crime number{by}"
    else:
        reason, action = reference.reason, f"send the crime number as a crime-number update or a new revision{by}"
    return Feedback(retailer=incident.retailer, incident_id=incident.incident_id, revision=incident.revision,
                    status=status, reason=reason, action=action, deadline=deadline, at=now)


def feedback_for_dead_letter(letter: DeadLetter) -> Feedback | None:
    """Rejected-record feedback for the retailer, when the record says which retailer sent it."""
    if not letter.retailer:
        return None
    fixes = "; ".join(f"{reason.field}: {reason.message or reason.problem}" for reason in letter.reasons)
    return Feedback(retailer=letter.retailer, incident_id=letter.incident_id or f"offset {letter.offset}",
                    status=FeedbackStatus.REJECTED, reason=letter.summary, action=f"fix and resend: {fixes}",
                    at=letter.received_at)
