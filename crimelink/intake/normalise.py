"""Raw feed record -> canonical incident, or a dead letter that says exactly why not.

Plain synchronous code: the normalise agent only moves bytes in and results out.
Every input ends in exactly one of the two outcomes; nothing raises.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from crimelink.errors import FeedError, RecordRejected
from crimelink.intake.edges import EventWindow, size_reasons, text_reasons
from crimelink.intake.feeds import adapter_for
from crimelink.intake.feeds.base import reasons_from_validation
from crimelink.intake.stores import StoreRegistry
from crimelink.schemas.incident import CrimeNumberStatus, CrimeReference, Incident, Occurrence, Offenders, SourcePosition
from crimelink.schemas.outcomes import DeadLetter, Reason
from crimelink.schemas.reference import forces

__all__ = ["RawRecord", "Normaliser", "DEAD_LETTER_PAYLOAD_BYTES", "retailer_mismatch"]

DEAD_LETTER_PAYLOAD_BYTES = 128 * 1024
"""The most of a refused record a dead letter keeps: escaped as JSON (up to six bytes a byte), it still fits one Kafka
message. Larger records were dead letters the broker refused, so they were lost."""

log = logging.getLogger(__name__)


def retailer_mismatch(channel: str, claimed: str) -> Reason:
    """Why a record or an update on one retailer's own topic that names another retailer is refused."""
    return Reason(field="retailer", problem="retailer-mismatch", value=claimed[:64],
                  message=f"this arrived on {channel}'s own topic, which carries only {channel}'s records and updates, "
                          f"but names retailer {claimed[:64]!r}; send each retailer's data with that retailer's login")


@dataclass(frozen=True, slots=True)
class RawRecord:
    feed_format: str
    payload: bytes
    topic: str
    partition: int
    offset: int
    received_at: datetime
    channel: str | None = None  # the retailer whose own topic this came from; None: crimelink's own (the gateway's)


class Normaliser:
    def __init__(self, stores: StoreRegistry, window: EventWindow | None = None) -> None:
        self._stores = stores
        self._window = window or EventWindow()

    def normalise(self, record: RawRecord) -> Incident | DeadLetter:
        try:
            return self._normalise(record)
        except FeedError as error:
            if isinstance(error, RecordRejected):
                reasons = error.reasons
            else:
                reasons = [Reason(field="$", problem="unknown-format", message=str(error), value=record.feed_format)]
            return self._dead_letter(record, reasons)
        except Exception as error:  # noqa: BLE001 - a bug must not lose the record or stop the stream
            log.exception("normalising %s:%s@%s failed", record.topic, record.partition, record.offset)
            return self._dead_letter(record, [Reason(field="$", problem="internal-error", message=repr(error)[:500])])

    def _normalise(self, record: RawRecord) -> Incident:
        adapter = adapter_for(record.feed_format)
        too_large = size_reasons(len(record.payload))
        if too_large:
            raise RecordRejected(too_large)
        try:
            draft = adapter.parse(record.payload)  # first: bytes that are no record at all get the adapter's reason
        except RecordRejected:
            # unless the text is what the parser choked on (a lone surrogate escape: "not JSON")
            unreadable_text = text_reasons(record.payload) if b"\x00" not in record.payload else []
            if unreadable_text:
                raise RecordRejected(unreadable_text) from None
            raise
        unreadable_text = text_reasons(record.payload)
        if unreadable_text:
            raise RecordRejected(unreadable_text)
        if record.channel is not None and draft.retailer != record.channel:
            raise RecordRejected([retailer_mismatch(record.channel, draft.retailer)])
        # The event times the correlator's window runs on; reported_at is the retailer's own note and not checked.
        out_of_window = self._window.reasons({"occurred.start": draft.occurred_start, "occurred.end": draft.occurred_end},
                                             record.received_at)
        if out_of_window:
            raise RecordRejected(out_of_window)
        store = self._stores.get(draft.retailer, draft.store_id)
        if store is None:
            raise RecordRejected([Reason(
                field="store.id", problem="unknown-store",
                message=f"store {draft.store_id!r} of retailer {draft.retailer!r} is not in the store registry; "
                "add it to the registry and resend",
                value=draft.store_id,
            )])
        reference_force = draft.crime_number_force if draft.crime_number_force in forces() else store.force_id
        try:
            return Incident(
                retailer=draft.retailer,
                incident_id=draft.incident_id,
                revision=draft.revision,
                feed_format=adapter.name,
                store=store,
                occurred=Occurrence(
                    start=draft.occurred_start, end=draft.occurred_end,
                    source_local_time=draft.source_local_time, source_timezone=draft.source_timezone,
                ),
                goods=draft.goods,
                tactics=draft.tactics,
                offenders=Offenders(count=draft.offender_count, descriptions=draft.offender_descriptions),
                vehicles=draft.vehicles,
                violence=draft.violence,
                threats=draft.threats,
                weapon=draft.weapon,
                cctv_available=draft.cctv_available,
                crime_reference=CrimeReference(
                    force_id=reference_force, raw=draft.crime_number, status=CrimeNumberStatus.UNCHECKED
                ),
                narrative=draft.narrative,
                unmapped_codes=draft.unmapped_codes,
                reported_at=draft.reported_at,
                received_at=record.received_at,
                source=SourcePosition(topic=record.topic, partition=record.partition, offset=record.offset),
            )
        except ValidationError as error:
            raise RecordRejected(reasons_from_validation(error)) from None

    def _dead_letter(self, record: RawRecord, reasons: list[Reason]) -> DeadLetter:
        retailer = incident_id = None
        with contextlib.suppress(FeedError):
            retailer, incident_id = adapter_for(record.feed_format).identify(record.payload)
        if record.channel is not None:  # the channel's owner sent it, and hears about it, whatever it claims
            retailer = record.channel
        payload = record.payload
        if len(payload) > DEAD_LETTER_PAYLOAD_BYTES:  # the dead letter must fit one Kafka message, escaped as JSON
            payload = payload[:DEAD_LETTER_PAYLOAD_BYTES]
            reasons = [*reasons, Reason(field="$", problem="payload-truncated", value=f"{len(record.payload):,} bytes",
                                        message=f"only the record's first {DEAD_LETTER_PAYLOAD_BYTES:,} bytes are kept "
                                                "here; the whole record stays on its raw topic at this offset")]
        return DeadLetter.from_raw(
            payload, reasons, feed_format=record.feed_format, topic=record.topic, partition=record.partition,
            offset=record.offset, received_at=record.received_at, retailer=retailer, incident_id=incident_id,
        )
