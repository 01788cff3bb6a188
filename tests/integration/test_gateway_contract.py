"""The gateway against its own OpenAPI document, property-based (schemathesis): for requests generated from the
document served at /v1/openapi.json, never a server error, and every answer as documented (status, media type, body
schema, headers). Through a real gateway on the real broker, with a worker behind it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from crimelink.gateway.published import OPENAPI_FILE
from tests.conftest import RunningGateway, RunningWorker

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def gateway(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    worker = RunningWorker(kafka_bootstrap, tmp_path_factory.mktemp("contract-worker")).start()
    running = RunningGateway(worker).start()
    yield running
    running.stop()
    worker.stop()


@pytest.fixture(scope="module")
def served_document(gateway: RunningGateway) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{gateway.url}/v1/openapi.json")


# One test per operation of the committed document (schemathesis' own lazy pytest loader does not run under
# pytest 9); the requests come from the document the gateway serves, which the last test pins to the committed one.
OPERATIONS = [(method.upper(), path) for path, methods in json.loads(OPENAPI_FILE.read_text())["paths"].items()
              for method in methods]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_gets_a_server_error_and_every_answer_is_as_documented(
        served_document: schemathesis.BaseSchema, gateway: RunningGateway, method: str, path: str) -> None:
    operation = served_document[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def requests(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=gateway.headers("northway"), checks=CHECKS)

    requests()


def test_the_served_document_is_the_committed_one(gateway: RunningGateway) -> None:
    served = httpx.get(f"{gateway.url}/v1/openapi.json").json()
    assert served == json.loads(OPENAPI_FILE.read_text()), "run 'crimelink schema' and commit deploy/openapi/"
