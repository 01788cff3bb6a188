"""What every feed adapter provides: parse one raw record into an :class:`IncidentDraft`.

An adapter knows its retailers' wire format and nothing else: store resolution, crime-number
checks and validation of the canonical model are the normaliser's job, so a new format is
one new module in this package and no change anywhere else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from crimelink.errors import RecordRejected
from crimelink.intake import taxonomy
from crimelink.intake.vehicles import normalise_registration
from crimelink.schemas.incident import GoodsLine, OffenderDescription, Tactic, Vehicle
from crimelink.schemas.outcomes import Reason

__all__ = ["FeedAdapter", "IncidentDraft", "Problems", "parse_json", "reasons_from_validation", "reject", "vehicle",
           "tactics_from", "goods_line"]

T = TypeVar("T")


@dataclass
class IncidentDraft:
    """An incident as the feed describes it, before store and crime-number resolution."""

    retailer: str
    incident_id: str
    store_id: str
    occurred_start: datetime
    occurred_end: datetime | None
    source_local_time: str
    revision: int = 1
    source_timezone: str = "Europe/London"
    goods: list[GoodsLine] = field(default_factory=list)
    tactics: list[Tactic] = field(default_factory=list)
    offender_count: int = 0
    offender_descriptions: list[OffenderDescription] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    violence: bool = False
    threats: bool = False
    weapon: bool = False
    cctv_available: bool = False
    crime_number: str | None = None
    crime_number_force: str | None = None
    narrative: str = ""
    reported_at: datetime | None = None
    unmapped_codes: list[str] = field(default_factory=list)


class FeedAdapter(ABC):
    """One feed format. Subclasses set ``name``, ``description`` and ``example`` and implement :meth:`parse` and
    :meth:`record_schema`."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: "json": one JSON document per Kafka message; "csv": one CSV row (with header) per message.
    encoding: ClassVar[str] = "json"
    #: Where a record names its retailer (reasons about the retailer point there).
    retailer_field: ClassVar[str] = "retailer"
    #: One valid record as a retailer sends it (one Kafka message): the example of the published JSON Schema and of
    #: the retailers' API docs, and checked by the tests to pass the whole normaliser.
    example: ClassVar[bytes]

    @abstractmethod
    def record_schema(self) -> dict[str, Any]:
        """The JSON Schema of one record (for a CSV format: one row, as an object of its columns), published for
        retailers' developers (``schemas/feeds/``) and in the gateway's OpenAPI document."""

    @abstractmethod
    def parse(self, raw: bytes) -> IncidentDraft:
        """Turn one raw record into a draft, or raise :class:`RecordRejected` with every reason found."""

    def identify(self, raw: bytes) -> tuple[str | None, str | None]:
        """(retailer, incident id) read as leniently as possible, for dead letters; never raises."""
        return None, None


_PLAIN = {
    "missing": "is required, and the record does not have it",
    "string_type": "must be text",
    "string_too_short": "must have at least {min_length} character(s)",
    "string_too_long": "must have at most {max_length} characters",
    "string_pattern_mismatch": "is not in the form this field takes",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number, without a fraction",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be {ge} or more",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be {le} or less",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} items",
    "list_type": "must be a list",
    "dict_type": "must be an object with named fields",
    "model_type": "must be an object with named fields",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "datetime_type": "must be a date and time",
    "datetime_parsing": "must be a date and time such as 2025-03-01T09:40:00+00:00",
    "datetime_from_date_parsing": "must be a date and time such as 2025-03-01T09:40:00+00:00",
    "date_parsing": "must be a date such as 2025-03-01",
    "extra_forbidden": "is not a field of this format",
}
"""Pydantic's error types in words a retailer's developer acts on; its own message is kept for any other type."""


def _plain(item: Any) -> str:
    wording = _PLAIN.get(item["type"])
    if wording is None:
        return str(item["msg"])
    try:
        return wording.format(**(item.get("ctx") or {}))
    except (KeyError, IndexError):
        return str(item["msg"])


def reasons_from_validation(error: ValidationError, prefix: str = "") -> list[Reason]:
    reasons = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "$"
        value = item.get("input")
        shown = None if isinstance(value, (dict, list)) or value is None else str(value)[:200]
        reasons.append(Reason(field=f"{prefix}{path}", problem=item["type"],
                              message=f"{_subject(item['loc'])} {_plain(item)}", value=shown))
    return reasons


def _subject(location: tuple[Any, ...]) -> str:
    """What the message is about: the field's own name, or "item 2 of lines" for a list's element."""
    if not location:
        return "the record"
    last = location[-1]
    if isinstance(last, int):
        return f"item {last + 1} of {location[-2] if len(location) > 1 else 'the list'}"
    return str(last)


M = TypeVar("M", bound=BaseModel)


def parse_json(model: type[M], raw: bytes) -> M:
    """A feed's pydantic contract from raw JSON, or every reason it is not one."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors()):
            raise reject("$", "not-json", "the record is not valid JSON", raw[:200].decode("utf-8", "replace")) from None
        raise RecordRejected(reasons_from_validation(error)) from None


class Problems:
    """Collects every reason a record is refused, so a retailer sees them all at once, not one per resend."""

    def __init__(self) -> None:
        self.reasons: list[Reason] = []

    def attempt(self, function: Callable[[], T]) -> T | None:
        """The function's result, or None with its reasons recorded."""
        try:
            return function()
        except RecordRejected as error:
            self.reasons.extend(error.reasons)
            return None

    def add(self, field_name: str, problem: str, message: str, value: Any = None) -> None:
        self.reasons.extend(reject(field_name, problem, message, value).reasons)

    def raise_if_any(self) -> None:
        if self.reasons:
            raise RecordRejected(self.reasons)


def reject(field_name: str, problem: str, message: str, value: Any = None) -> RecordRejected:
    shown = None if value is None else str(value)[:200]
    return RecordRejected([Reason(field=field_name, problem=problem, message=message, value=shown)])


def vehicle(registration: str | None, make: str | None, model: str | None, colour: str | None) -> Vehicle:
    mark = normalise_registration(registration)
    return Vehicle(
        registration=mark.normalised if mark else None,
        registration_raw=registration if registration and registration.strip() else None,
        registration_valid=bool(mark and mark.valid),
        make=make.strip().title() if make and make.strip() else None,
        model=model.strip() if model and model.strip() else None,
        colour=colour.strip().lower() if colour and colour.strip() else None,
    )


def tactics_from(feed: str, codes: list[str], text: str, unmapped: list[str] | None = None) -> list[Tactic]:
    """Controlled tactics from a feed's codes first, then from its free text.

    Codes no rule knows are appended to ``unmapped`` (kept on the incident, so operators can
    extend the rules) rather than guessed.
    """
    vocabulary = taxonomy.tactics()
    found: dict[str, Tactic] = {}
    for code in codes:
        mapped = vocabulary.from_code(feed, code)
        if mapped is None:
            if unmapped is not None:
                unmapped.append(f"tactic:{code}")
        elif mapped not in found:
            found[mapped] = Tactic(code=mapped, source_text=code)
    for mapped, phrase in vocabulary.from_text(feed, text):
        found.setdefault(mapped, Tactic(code=mapped, source_text=phrase))
    return list(found.values())


def goods_line(feed: str, code: str | None, quantity: int, value_pence: int, text: str = "",
               unmapped: list[str] | None = None) -> GoodsLine:
    """A goods line whose category comes from the feed's code, else its wording, else OTHER.

    The description keeps the retailer's code and wording verbatim ("ALC: Whisky 70cl").
    """
    vocabulary = taxonomy.goods()
    category = vocabulary.from_code(feed, code) if code else None
    if category is None:
        matches = vocabulary.from_text(feed, text or code or "")
        category = matches[0][0] if matches else "OTHER"
        if code and unmapped is not None:
            unmapped.append(f"goods:{code}")
    description = ": ".join(part for part in (code, text) if part)
    return GoodsLine(category=category, description=description, quantity=quantity, value_pence=value_pence)
