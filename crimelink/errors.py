"""The one exception tree of crimelink.

    CrimelinkError
    ├── ConfigurationError          a setting is missing or contradicts another
    ├── DependencyMissingError      an optional dependency is not installed
    ├── BrokerError                 the local Kafka broker
    │   ├── BrokerFetchError        Maven could not resolve the broker
    │   └── BrokerStartError        the broker did not come up
    ├── StoreError                  ClickHouse
    │   ├── SchemaError             creating or migrating tables failed
    │   ├── SinkWriteError          a batch could not be written (``transient``: retry, or set rows aside)
    │   └── QueryError              an analyst query failed (carries ClickHouse's code)
    │       ├── ReadOnlyViolation   the query does more than read crimelink's tables
    │       └── QueryLimitExceeded  the query was stopped at a time, memory or size limit
    ├── AccessError                 users, tokens, roles (``crimelink users``, the web server)
    │   ├── NotAuthenticated        no valid token, password or session
    │   ├── PermissionDenied        the role may not do that, or not to that object
    │   ├── JustificationRequired   personal data asked for without saying why
    │   └── AuditUnavailable        the access log could not be written, so nothing is shown
    └── FeedError                   a raw feed record is unusable
        ├── UnknownFeedFormat       no adapter is registered under that name
        └── RecordRejected          the record failed validation (carries reasons)

Bad input is data, not a crash: the normaliser turns every ``FeedError`` into a
dead-letter record, so these never escape an agent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crimelink.schemas.outcomes import Reason

__all__ = [
    "CrimelinkError",
    "ConfigurationError",
    "DependencyMissingError",
    "BrokerError",
    "BrokerFetchError",
    "BrokerStartError",
    "StoreError",
    "SchemaError",
    "SinkWriteError",
    "QueryError",
    "ReadOnlyViolation",
    "QueryLimitExceeded",
    "AccessError",
    "NotAuthenticated",
    "PermissionDenied",
    "JustificationRequired",
    "AuditUnavailable",
    "CrimeNumberRefused",
    "FeedError",
    "UnknownFeedFormat",
    "RecordRejected",
]


class CrimelinkError(Exception):
    """Root of every error crimelink raises on purpose."""


class ConfigurationError(CrimelinkError):
    pass


class DependencyMissingError(CrimelinkError):
    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed; run pip install 'crimelink[{extra}]' to fix it")


class BrokerError(CrimelinkError):
    pass


class BrokerFetchError(BrokerError):
    pass


class BrokerStartError(BrokerError):
    pass


class StoreError(CrimelinkError):
    pass


class SchemaError(StoreError):
    pass


class SinkWriteError(StoreError):
    """``transient``: the store is unreachable, full or busy, so the same rows may go in later; otherwise the rows
    themselves are refused (a value the column cannot hold) and retrying them would only stop the sink."""

    def __init__(self, table: str, rows: int, cause: BaseException, *, transient: bool = True) -> None:
        super().__init__(f"writing {rows} row(s) to {table} failed: {cause}")
        self.table = table
        self.rows = rows
        self.transient = transient


class QueryError(StoreError):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ReadOnlyViolation(QueryError):
    pass


class QueryLimitExceeded(QueryError):
    pass


class AccessError(CrimelinkError):
    pass


class NotAuthenticated(AccessError):
    pass


class PermissionDenied(AccessError):
    pass


class JustificationRequired(AccessError):
    pass


class AuditUnavailable(AccessError):
    pass


class CrimeNumberRefused(CrimelinkError):
    """``status``: the HTTP answer that fits (404 not the caller's to see, 403 another force's number, 409 already
    settled, 422 not a crime number of that force)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FeedError(CrimelinkError):
    pass


class UnknownFeedFormat(FeedError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown feed format {name!r}; known formats: {', '.join(sorted(known))}")
        self.name = name


class RecordRejected(FeedError):
    """A record failed validation; ``reasons`` says which field, what problem, which value."""

    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(f"{r.field}: {r.problem}" for r in reasons))
        self.reasons = reasons
