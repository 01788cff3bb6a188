"""The gateway's HTTP face (FastAPI): who is calling, the body read within its limit, problems as RFC 9457 answers,
and the OpenAPI document with every feed format's record schema. What each endpoint does is in ``service``."""

# No "from __future__ import annotations": FastAPI reads the endpoints' annotations, which name local values.

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import FastAPI, Header, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from crimelink.access.audit import AuditEvent, Category, Outcome
from crimelink.access.principals import ANONYMOUS, Role
from crimelink.errors import AccessError
from crimelink.gateway.contract import (
    BacklogPage,
    CrimeNumberAnswer,
    CrimeNumberRequest,
    IncidentStatus,
    Problem,
    SubmissionAnswer,
)
from crimelink.gateway.service import Answered, ApiProblem, Caller, Gateway
from crimelink.intake.feeds import adapters
from crimelink.schemas.outcomes import Reason
from crimelink.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
_bearer = HTTPBearer(auto_error=False, description="A retailer's token: 'crimelink users add NAME --role retailer "
                                                   "--retailer ID' prints it once.")


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "content": {PROBLEM: {}}, "description": _MEANINGS[status]} for status in statuses}


_MEANINGS = {400: "The request cannot be read: what was wrong is in detail and errors.",
             401: "No valid token.", 403: "The token may not do this (not a retailer's, or another retailer's).",
             404: "No such feed format or incident.", 413: "Too large: the limit is in limit.",
             415: "The body's media type does not suit the feed format.",
             422: "Refused: an Idempotency-Key reused for another request, or a crime number not valid for the force.",
             429: "Over the retailer's rate: wait Retry-After seconds.",
             503: "Kafka or the worker did not answer in time; nothing was accepted: try again after Retry-After."}
_IDEMPOTENCY = Header(alias="Idempotency-Key", max_length=255,
                      description="Any unique string (a UUID): a request sent again with the same key gets the first "
                                  "answer, and nothing is done twice.")


def create_app(settings: Settings, gateway: Gateway | None = None) -> FastAPI:
    """The app; its services are made as it starts (``lifespan``), or handed in as ``gateway``."""
    state: dict[str, Any] = {"gateway": gateway}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state["gateway"] is not None:
            yield
            return
        from crimelink.gateway.assembly import open_gateway

        async with open_gateway(settings) as (opened, users, trail):
            state.update(gateway=opened, users=users, trail=trail)
            yield

    app = FastAPI(
        title="crimelink retailer gateway", version="1.0.0", lifespan=lifespan,
        description="Submit store incidents and crime numbers; each record is answered at once, accepted (with "
                    "where it is on the broker and whether it will be referable) or rejected (with machine-readable "
                    "reasons). Authenticate with your retailer's token: `Authorization: Bearer crl_...`. The retailer "
                    "is always the token's, never the body's. Guide: docs/retailer-api.md.",
        openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None,
    )

    async def caller(request: Request,
                     credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> Caller:
        client = request.client.host if request.client else ""
        users = state.get("users")
        principal = None
        if credentials is not None and users is not None:
            try:
                principal = await asyncio.to_thread(users.authenticate_token, credentials.credentials)
            except AccessError as error:  # the users file cannot be read: nobody is let in, and the log says why
                log.error("%s", error)
                raise ApiProblem(503, "cannot check tokens", "the gateway cannot read its users file; nobody can "
                                 "submit until an administrator fixes it", retry_after=30) from None
        if principal is None:
            _refusal(state, AuditEvent(Category.AUTHENTICATION, "gateway", ANONYMOUS, client=client,
                                       object=request.url.path[:500], outcome=Outcome.REFUSED,
                                       detail="no valid token" if credentials else "no token"))
            raise ApiProblem(401, "not authenticated", "send your retailer's token as 'Authorization: Bearer crl_...'")
        if principal.role is not Role.RETAILER:
            _refusal(state, AuditEvent(Category.AUTHENTICATION, "gateway", principal, client=client,
                                       object=request.url.path[:500], outcome=Outcome.REFUSED,
                                       detail=f"role {principal.role} is not a retailer"))
            raise ApiProblem(403, "not a retailer's token", f"{principal.name} is a {principal.role} user; the "
                                                            "gateway takes retailers' tokens only")
        return Caller(principal, credentials.credentials, client)  # type: ignore[union-attr]

    Who = Annotated[Caller, Security(caller)]

    @app.exception_handler(ApiProblem)
    async def _api_problem(_: Request, error: ApiProblem) -> Response:
        return _problem(error.status, error.title, error.detail, errors=error.errors, limit=error.limit,
                        retry_after=error.retry_after)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> Response:
        reasons = [Reason(field=".".join(str(part) for part in item.get("loc", ())) or "$", problem=item["type"],
                          message=item.get("msg", ""), value=_shown(item.get("input"))) for item in error.errors()]
        return _problem(400, "bad request", "; ".join(f"{r.field}: {r.message}" for r in reasons)[:2000],
                        errors=reasons)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> Response:
        return _problem(error.status_code, "refused", str(error.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        reference = uuid.uuid4().hex[:12]
        log.exception("gateway error %s on %s %s", reference, request.method, request.url.path)
        return _problem(500, "internal error", f"the gateway failed on this request (reference {reference}); "
                                               "nothing in it was accepted")

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    def service() -> Gateway:
        opened = state["gateway"]
        if opened is None:
            raise ApiProblem(503, "starting", "the gateway is still starting", retry_after=2)
        return opened  # type: ignore[no-any-return]

    formats = sorted(adapters())
    app.openapi = lambda: app.openapi_schema or _with_feed_schemas(app, formats)  # type: ignore[method-assign]

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok" if state["gateway"] is not None else "starting"}

    @app.post("/v1/feeds/{feed_format}/records", status_code=202, response_model=SubmissionAnswer,
              responses=_problems(400, 401, 403, 404, 413, 415, 422, 429, 503),
              summary="Submit one record or a batch in a feed format",
              openapi_extra={"requestBody": _records_body(formats, settings.gateway.max_batch_records)})
    async def submit_records(
        request: Request, who: Who,
        feed_format: Annotated[str, Path(description="A registered feed format.", json_schema_extra={"enum": formats})],
        idempotency_key: Annotated[str | None, _IDEMPOTENCY] = None,
    ) -> Response:
        """Each record is checked as the worker will (feed format, store known, fields valid, the crime number's
        format for its force) and answered at once. Accepted records are on the broker when the answer comes; a
        record sent again (same incident, revision and content) gets its first answer and is not published twice.
        The answer is 202 whatever became of each record: read `outcome` of each."""
        body = await _read_body(request, int(settings.gateway.max_body_mib * 1024 * 1024))
        answered = await service().submit_records(who, feed_format, request.headers.get("content-type", ""), body,
                                                  idempotency_key)
        return _answered(answered)

    @app.post("/v1/incidents/{incident_id}/crime-number", status_code=202, response_model=CrimeNumberAnswer,
              responses=_problems(400, 401, 403, 404, 422, 503), summary="Submit the crime number of an incident")
    async def submit_crime_number(
        who: Who, request_body: CrimeNumberRequest,
        incident_id: Annotated[str, Path(min_length=1, max_length=128)],
        idempotency_key: Annotated[str | None, _IDEMPOTENCY] = None,
    ) -> Response:
        """For an incident the retailer reported: the crime number is checked against the force's format (the
        store's force, or `force_id`) and sent to the crime-number gate; the incident's status then shows what it
        changed. An incident crimelink does not hold answers 404, and an invalid number 422: neither is sent."""
        return _answered(await service().submit_crime_number(who, incident_id, request_body, idempotency_key))

    @app.get("/v1/incidents/{incident_id}", response_model=IncidentStatus, responses=_problems(400, 401, 403, 404, 503),
             summary="An incident's status: eligibility, what is missing, by when")
    async def incident_status(
        who: Who, incident_id: Annotated[str, Path(min_length=1, max_length=128)],
        retailer: Annotated[str | None, Query(max_length=64, description="Which of the token's retailers, when it "
                                                                         "has several.")] = None,
    ) -> IncidentStatus:
        return await service().incident_status(who, incident_id, retailer)

    @app.get("/v1/backlog", response_model=BacklogPage, responses=_problems(400, 401, 403, 503),
             summary="What the retailer still has to act on: rejected, pending, invalid and expired incidents")
    async def backlog(
        who: Who,
        status: Annotated[list[str], Query(description="Only these statuses (repeat, or comma-separate).",
                                           json_schema_extra={"items": {"enum": ["rejected", "pending", "invalid",
                                                                                 "expired"]}})] = [],  # noqa: B006
        since: Annotated[str | None, Query(max_length=40, description="Only changed since: an ISO time, or 30m, 12h, "
                                                                      "7d.", pattern=r"^[0-9A-Za-z:.+\- ]+$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        retailer: Annotated[str | None, Query(max_length=64)] = None,
    ) -> BacklogPage:
        statuses = [part.strip() for item in status for part in item.split(",") if part.strip()]
        return await service().backlog(who, retailer, statuses, since, limit, offset)

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiProblem(413, "body too large", f"the body is {int(declared):,} bytes; the limit is {limit:,}: send "
                                                "fewer records at once", limit=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiProblem(413, "body too large", f"the body is over the limit of {limit:,} bytes: send fewer "
                                                    "records at once", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _answered(answered: Answered) -> Response:
    response = JSONResponse(answered.body, status_code=answered.status)
    if answered.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _problem(status: int, title: str, detail: str, *, errors: list[Reason] | None = None, limit: int | None = None,
             retry_after: float | None = None) -> Response:
    body = Problem(title=title, status=status, detail=detail, errors=errors or [], limit=limit,
                   retry_after_seconds=retry_after)
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="crimelink gateway"'
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status, headers=headers,
                        media_type=PROBLEM)


def _refusal(state: dict[str, Any], event: AuditEvent) -> None:
    trail = state.get("trail")
    if trail is not None:
        trail.later(event)


def _shown(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)[:200]


def _with_feed_schemas(app: FastAPI, formats: list[str]) -> dict[str, Any]:
    """FastAPI's document, with each feed format's record schema (``schemas/feeds``) as a component of its own."""
    from fastapi.openapi.utils import get_openapi

    from crimelink.intake.feed_schemas import feed_schema

    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    # FastAPI documents a 422 of its own on every endpoint with parameters; this app answers those as 400 problems.
    for operations in document["paths"].values():
        for operation in operations.values():
            refused = operation.get("responses", {}).get("422", {})
            if "HTTPValidationError" in json.dumps(refused):
                del operation["responses"]["422"]
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    for name in formats:
        schema = feed_schema(name)
        for drop in ("$schema", "$id"):
            schema.pop(drop, None)
        definitions = schema.pop("$defs", {})
        for part, definition in definitions.items():
            components[f"{name}.{part.strip('_')}"] = _refs_to_components(definition, name)
        components[name] = _refs_to_components(schema, name)
    app.openapi_schema = document
    return document


def _refs_to_components(value: Any, feed_format: str) -> Any:
    if isinstance(value, dict):
        return {key: (f"#/components/schemas/{feed_format}.{item.removeprefix('#/$defs/').strip('_')}"
                      if key == "$ref" and isinstance(item, str) else _refs_to_components(item, feed_format))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_refs_to_components(item, feed_format) for item in value]
    return value


def _records_body(formats: list[str], max_records: int) -> dict[str, Any]:
    """The records endpoint's body: one record or an array of records of the path's format (JSON formats), or CSV.
    Each format's record schema is a component (``<format>`` in ``components/schemas``)."""
    json_formats = [name for name in formats if adapters()[name].encoding == "json"]
    one = {"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in json_formats]}
    return {"required": True, "content": {
        "application/json": {"schema": {"oneOf": [one, {"type": "array", "items": one, "minItems": 1,
                                                        "maxItems": max_records}]}},
        "text/csv": {"schema": {"type": "string", "description": "The header line, then one row per record (CSV "
                                                                 "formats)."}},
    }}

