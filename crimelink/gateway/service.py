"""What each gateway endpoint does, apart from HTTP: submit records, submit a crime number, read an incident's status
and the backlog. Raises :class:`ApiProblem` for a request refused as a whole; the app turns it into a problem answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crimelink.access.audit import AuditEvent, Category
from crimelink.access.principals import Principal
from crimelink.gateway.answers import AnswerBook, Entry, crime_number_key, record_key, request_key
from crimelink.gateway.bodies import BodyError, split_body
from crimelink.gateway.contract import (
    BacklogEntry,
    BacklogPage,
    CrimeNumberAnswer,
    CrimeNumberRequest,
    IncidentStatus,
    RecordAnswer,
    StatusChange,
    SubmissionAnswer,
)
from crimelink.gateway.kafka_link import GatewayKafka, Message
from crimelink.gateway.rates import RetailerRates
from crimelink.gateway.screening import Screen, Screened
from crimelink.gateway.worker_reads import WorkerReads, WorkerRefused, WorkerUnavailable
from crimelink.intake.edges import MAX_RECORD_BYTES
from crimelink.intake.feeds import adapters
from crimelink.referral import crime_numbers
from crimelink.schemas.incident import CrimeNumberStatus
from crimelink.schemas.outcomes import BACKLOG_STATUSES, CrimeNumberUpdate, Reason
from crimelink.settings import GatewaySettings
from crimelink.streams.topics import TopicNames

__all__ = ["ApiProblem", "Gateway", "Answered"]

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class ApiProblem(Exception):
    """A request refused as a whole, with its HTTP status."""

    def __init__(self, status: int, title: str, detail: str, *, errors: list[Reason] | None = None,
                 limit: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.errors = errors or []
        self.limit = limit
        self.retry_after = None if retry_after is None else float(max(1, math.ceil(retry_after)))


@dataclass(frozen=True)
class Answered:
    status: int
    body: dict[str, Any]
    replayed: bool = False
    """The answer to an earlier request with the same Idempotency-Key."""


@dataclass(frozen=True)
class Caller:
    principal: Principal
    token: str
    client: str


class Gateway:
    def __init__(self, settings: GatewaySettings, names: TopicNames, screen: Screen, book: AnswerBook,
                 kafka: GatewayKafka, reads: WorkerReads, rates: RetailerRates) -> None:
        self.settings = settings
        self.names = names
        self.screen = screen
        self.book = book
        self.kafka = kafka
        self.reads = reads
        self.rates = rates
        self._working: dict[bytes, asyncio.Lock] = {}

    # --- records ---------------------------------------------------------------------------------

    async def submit_records(self, caller: Caller, feed_format: str, content_type: str, body: bytes,
                             idempotency_key: str | None) -> Answered:
        adapter = adapters().get(feed_format)
        if adapter is None:
            raise ApiProblem(404, "unknown feed format", f"there is no feed format {feed_format[:64]!r}; the formats "
                                                         f"are {', '.join(sorted(adapters()))}")
        retailers = caller.principal.retailers
        request_digest = hashlib.sha256(feed_format.encode() + b"\0" + body).hexdigest()
        async with self._once(idempotency_key, caller, request_digest) as replay:
            if replay is not None:
                return replay
            try:
                records = split_body(adapter, content_type, body, self.settings.max_batch_records)
            except BodyError as error:
                raise ApiProblem(error.status, _BODY_TITLES[error.status], str(error), limit=error.limit) from None
            if records.single and len(records.payloads[0]) > MAX_RECORD_BYTES:
                raise ApiProblem(413, "record too large", f"the record is {len(records.payloads[0]):,} bytes; the "
                                                          f"limit is {MAX_RECORD_BYTES:,}", limit=MAX_RECORD_BYTES)
            wait = self.rates.take(",".join(retailers), len(records.payloads))
            if wait:
                raise ApiProblem(429, "too many records", f"{', '.join(retailers)} may send "
                                 f"{self.rates.rate:g} records a second ({self.rates.burst} at once); try again in "
                                 f"{math.ceil(wait)} s", retry_after=wait)
            now = datetime.now(UTC)
            screened = await asyncio.to_thread(
                lambda: [self.screen.record(feed_format, payload, retailers, now) for payload in records.payloads])
            answer = await self._publish_records(caller, feed_format, screened, now)
            return await self._remember(idempotency_key, caller, request_digest, Answered(202, answer.model_dump(mode="json")))

    async def _publish_records(self, caller: Caller, feed_format: str, screened: list[Screened],
                               now: datetime) -> SubmissionAnswer:
        answers: list[RecordAnswer | None] = [None] * len(screened)
        fresh: list[tuple[int, Screened, bytes]] = []
        in_this_request: dict[bytes, int] = {}
        repeats: list[tuple[int, int]] = []  # (index, index of the same record earlier in this request)
        for index, record in enumerate(screened):
            incident = record.incident
            if incident is None:
                answers[index] = RecordAnswer(index=index, outcome="rejected", reasons=record.reasons,
                                              **_identity(feed_format, record.payload))
                continue
            key = record_key(incident.retailer, incident.incident_id, incident.revision)
            earlier = self.book.get(key)
            first = in_this_request.get(key)
            digest = earlier.digest if earlier else screened[first].digest if first is not None else None
            if digest is not None and digest != record.digest:
                answers[index] = RecordAnswer(
                    index=index, outcome="rejected", incident_id=incident.incident_id, revision=incident.revision,
                    reasons=[Reason(field="$", problem="revision-reused", value=str(incident.revision),
                                    message=f"revision {incident.revision} of {incident.incident_id} was accepted "
                                            "before with different content: send the change as the next revision")])
            elif earlier is not None:
                answers[index] = RecordAnswer.model_validate({**earlier.answer, "index": index, "resent": True})
            elif first is not None:
                repeats.append((index, first))
            else:
                in_this_request[key] = index
                fresh.append((index, record, key))
        placed = await self._place([Message(self.names.raw[feed_format],
                                            f"{r.incident.retailer}:{r.incident.incident_id}".encode(),  # type: ignore[union-attr]
                                            r.payload, _headers(caller)) for _, r, _ in fresh])
        entries: list[Message] = []
        for (index, record, key), where in zip(fresh, placed, strict=True):
            incident = record.incident
            assert incident is not None
            answer = RecordAnswer(
                index=index, outcome="accepted", incident_id=incident.incident_id, revision=incident.revision,
                expected_status=incident.eligibility.value,  # type: ignore[arg-type]
                status_reason=incident.eligibility_reason, force_id=incident.crime_reference.force_id,
                deadline=record.deadline, topic=where.topic, partition=where.partition, offset=where.offset)
            answers[index] = answer
            entries.append(Message(self.names.gateway_answers, key, self.book.put(
                key, Entry(record.digest, answer.model_dump(mode="json"), now.timestamp()))))
        for index, first in repeats:  # a record twice in one request: the first one's answer
            answers[index] = answers[first].model_copy(update={"index": index, "resent": True})  # type: ignore[union-attr]
        done = [answer for answer in answers if answer is not None]
        accepted = sum(answer.outcome == "accepted" for answer in done)
        retailer = ", ".join(caller.principal.retailers)
        ids = ", ".join(sorted({a.incident_id for a in done if a.outcome == "accepted" and a.incident_id}))
        event = AuditEvent(Category.COLLECTION, "gateway-records", caller.principal, client=caller.client,
                           object=f"{feed_format} from {retailer}: {ids}"[:4000], rows=len(fresh),
                           detail=f"{accepted} accepted ({accepted - len(fresh)} resent), {len(done) - accepted} "
                                  "rejected")
        await self._place([*entries, _audit(self.names, event)])
        return SubmissionAnswer(feed_format=feed_format, retailer=retailer, accepted=accepted,
                                rejected=len(done) - accepted, records=done)

    # --- crime numbers ---------------------------------------------------------------------------

    async def submit_crime_number(self, caller: Caller, incident_id: str, request: CrimeNumberRequest,
                                  idempotency_key: str | None) -> Answered:
        retailer = self._retailer(caller.principal, request.retailer)
        request_digest = hashlib.sha256(f"{incident_id}\0{request.model_dump_json()}".encode()).hexdigest()
        async with self._once(idempotency_key, caller, request_digest) as replay:
            if replay is not None:
                return replay
            force_id = request.force_id or await self._force_of(caller, retailer, incident_id)
            reference = crime_numbers.check(force_id, request.crime_reference)
            if reference.status is not CrimeNumberStatus.VALID:
                raise ApiProblem(422, "not a valid crime number", reference.reason, errors=[Reason(
                    field="crime_reference", problem=reference.status.value.replace("_", "-"),
                    message=reference.reason, value=request.crime_reference[:200])])
            key = crime_number_key(retailer, incident_id, reference.normalised or "")
            earlier = self.book.get(key)
            if earlier is not None:
                return await self._remember(idempotency_key, caller, request_digest,
                                            Answered(202, {**earlier.answer, "resent": True}))
            update = CrimeNumberUpdate(retailer=retailer, incident_id=incident_id,
                                       crime_reference=request.crime_reference, force_id=request.force_id)
            [where] = await self._place([Message(self.names.crime_number_updates, update.key.encode(),
                                                 update.model_dump_json().encode(), _headers(caller))])
            answer = CrimeNumberAnswer(retailer=retailer, incident_id=incident_id,
                                       crime_reference=reference.normalised or "", force_id=force_id,
                                       check=reference.reason, topic=where.topic, partition=where.partition,
                                       offset=where.offset).model_dump(mode="json")
            event = AuditEvent(Category.ALTERATION, "gateway-crime-number", caller.principal, client=caller.client,
                               object=update.key, rows=1, detail=f"crime number {reference.normalised} from force "
                                                                  f"{force_id}, sent to the crime-number gate")
            entry = self.book.put(key, Entry(request_digest, answer, time.time()))
            await self._place([Message(self.names.gateway_answers, key, entry), _audit(self.names, event)])
            return await self._remember(idempotency_key, caller, request_digest, Answered(202, answer))

    async def _force_of(self, caller: Caller, retailer: str, incident_id: str) -> str:
        """The force of an incident the retailer reported: from this gateway's answers, else from the worker."""
        known = self.book.incident(retailer, incident_id)
        if known is not None and known.answer.get("force_id"):
            return str(known.answer["force_id"])
        found = await self._feedback(caller, retailer, incident_id)
        if found is None or not found.get("force_id"):
            raise ApiProblem(404, "no such incident", f"{retailer} has reported no incident {incident_id!r} that "
                                                      "crimelink holds: send the incident first (a crime number for "
                                                      "an incident never reported is not taken)")
        return str(found["force_id"])

    # --- reading ---------------------------------------------------------------------------------

    async def incident_status(self, caller: Caller, incident_id: str, retailer: str | None) -> IncidentStatus:
        retailer = self._retailer(caller.principal, retailer)
        found = await self._feedback(caller, retailer, incident_id)
        history = [StatusChange.model_validate(row) for row in (found or {}).get("history", [])]
        decided = [change for change in history if change.status != "update-ignored"]
        if decided:
            last = decided[-1]
            return IncidentStatus(retailer=retailer, incident_id=incident_id, status=last.status,  # type: ignore[arg-type]
                                  referable=last.status == "referable", revision=last.revision, missing=last.action,
                                  deadline=last.deadline if last.status in ("pending", "invalid") else None,
                                  updated_at=history[-1].at, history=history)
        known = self.book.incident(retailer, incident_id)
        if known is not None:
            answer = known.answer
            return IncidentStatus(retailer=retailer, incident_id=incident_id, status="received", referable=False,
                                  revision=answer.get("revision"), deadline=answer.get("deadline"),
                                  missing="" if answer.get("expected_status") == "referable" else
                                  "send the crime number when the force issues it",
                                  updated_at=datetime.fromtimestamp(known.at, UTC), history=history)
        raise ApiProblem(404, "no such incident", f"{retailer} has no incident {incident_id!r} in crimelink (a record "
                                                  "accepted moments ago may take a few seconds to show)")

    async def backlog(self, caller: Caller, retailer: str | None, statuses: list[str], since: str | None, limit: int,
                      offset: int) -> BacklogPage:
        retailer = self._retailer(caller.principal, retailer)
        unknown = sorted(set(statuses) - set(BACKLOG_STATUSES))
        if unknown:
            raise ApiProblem(400, "bad query", f"status must be among {', '.join(BACKLOG_STATUSES)}; not "
                                               f"{', '.join(unknown)[:200]}")
        try:
            document = await self.reads.get("/api/backlog", caller.token, {
                "retailer": retailer, "status": ",".join(statuses), "since": since, "limit": limit + 1,
                "offset": offset})
        except WorkerUnavailable as error:
            raise ApiProblem(503, "status unavailable", f"{error}; try again shortly", retry_after=5) from None
        except WorkerRefused as error:
            raise ApiProblem(400 if error.status == 400 else 403, "refused", str(error)) from None
        rows = [dict(zip(document["columns"], row, strict=True)) for row in document["rows"]]
        items = [BacklogEntry(incident_id=row["incident_id"], revision=row["revision"], status=row["status"],
                              reason=row["reason"], action=row["action"], deadline=row["deadline"],
                              updated_at=row["updated_at"]) for row in rows[:limit]]
        return BacklogPage(retailer=retailer, items=items, limit=limit, offset=offset,
                           next_offset=offset + limit if len(rows) > limit else None)

    async def _feedback(self, caller: Caller, retailer: str, incident_id: str) -> dict[str, Any] | None:
        try:
            return await self.reads.get(f"/api/feedback/{_segment(retailer)}/{_segment(incident_id)}", caller.token)
        except WorkerRefused as error:
            if error.status == 404:
                return None
            raise ApiProblem(403, "refused", str(error)) from None
        except WorkerUnavailable as error:
            raise ApiProblem(503, "status unavailable", f"{error}; try again shortly", retry_after=5) from None

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _retailer(principal: Principal, asked: str | None) -> str:
        if asked:
            if asked not in principal.retailers:
                raise ApiProblem(403, "not your retailer", f"this token submits for {', '.join(principal.retailers)} "
                                                           "only")
            return asked
        if len(principal.retailers) != 1:
            raise ApiProblem(400, "which retailer", f"this token is for {', '.join(principal.retailers)}: say which "
                                                    "with retailer")
        return principal.retailers[0]

    async def _place(self, messages: list[Message]) -> list[Any]:
        if not messages:
            return []
        try:
            return await asyncio.wait_for(self.kafka.place(messages), self.settings.reply_seconds)
        except Exception as error:  # noqa: BLE001 - whatever stopped it, nothing is reported accepted
            raise ApiProblem(503, "broker unavailable", f"Kafka did not take the records within "
                             f"{self.settings.reply_seconds:g} s ({type(error).__name__}); nothing in this request is "
                             "accepted: send it again (a record already taken is recognised and not doubled)",
                             retry_after=5) from None

    def _once(self, idempotency_key: str | None, caller: Caller, digest: str) -> _Once:
        if idempotency_key is not None and not _IDEMPOTENCY_KEY.match(idempotency_key):
            raise ApiProblem(400, "bad Idempotency-Key", "the Idempotency-Key header must be 1-255 printable ASCII "
                                                         "characters")
        return _Once(self, idempotency_key, caller, digest)

    async def _remember(self, idempotency_key: str | None, caller: Caller, digest: str, answered: Answered) -> Answered:
        if idempotency_key is None:
            return answered
        key = request_key(",".join(caller.principal.retailers), idempotency_key)
        value = self.book.put(key, Entry(digest, {"status": answered.status, "body": answered.body}, time.time()))
        await self._place([Message(self.names.gateway_answers, key, value)])
        return answered


class _Once:
    """One request per Idempotency-Key at a time in this process; a key seen before answers as it did then."""

    def __init__(self, gateway: Gateway, idempotency_key: str | None, caller: Caller, digest: str) -> None:
        self._gateway, self._key, self._caller, self._digest = gateway, idempotency_key, caller, digest
        self._lock: asyncio.Lock | None = None

    async def __aenter__(self) -> Answered | None:
        if self._key is None:
            return None
        key = request_key(",".join(self._caller.principal.retailers), self._key)
        self._lock = self._gateway._working.setdefault(key, asyncio.Lock())  # noqa: SLF001
        await self._lock.acquire()
        earlier = self._gateway.book.get(key)
        if earlier is None:
            return None
        if earlier.digest != self._digest:
            self._release()
            raise ApiProblem(422, "Idempotency-Key reused", "this Idempotency-Key was used for a different request; "
                                                             "use a new key for a new request")
        return Answered(int(earlier.answer["status"]), dict(earlier.answer["body"]), replayed=True)

    async def __aexit__(self, *_: object) -> None:
        self._release()

    def _release(self) -> None:
        if self._lock is not None and self._lock.locked():
            self._lock.release()
            key = request_key(",".join(self._caller.principal.retailers), self._key or "")
            if not self._lock.locked():
                self._gateway._working.pop(key, None)  # noqa: SLF001
        self._lock = None


_BODY_TITLES = {400: "malformed body", 413: "too many records", 415: "unsupported media type"}


def _headers(caller: Caller) -> tuple[tuple[str, bytes], ...]:
    """Who sent it, as authenticated: the worker may compare it with what the record claims."""
    return (("crimelink-via", b"gateway"), ("crimelink-user", caller.principal.name.encode()),
            ("crimelink-retailers", ",".join(caller.principal.retailers).encode()))


def _audit(names: TopicNames, event: AuditEvent) -> Message:
    return Message(names.audit, event.event_id.encode(), json.dumps(event.record()).encode())


def _identity(feed_format: str, payload: bytes) -> dict[str, Any]:
    _, incident_id = adapters()[feed_format].identify(payload)
    return {"incident_id": incident_id[:128] if incident_id else None}


def _segment(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
