"""Schemathesis against the API's own OpenAPI document, in-process, on moto.

Every operation gets generated requests, schema-valid and schema-violating ones,
and every response must:

- never be a 5xx (``not_a_server_error``);
- have a status code the document declares (``status_code_conformance``), with
  the declared content type, headers and body schema
  (``content_type_conformance``, ``response_headers_conformance``,
  ``response_schema_conformance``);
- accept what the schema accepts and refuse what it refuses
  (``positive_data_acceptance``, ``negative_data_rejection``).

The app is ``functions.api.app.app`` driven through ASGI (what Mangum calls on
Lambda), with JobsQueue and JobsTable on in-process moto. Locally and here no
request is signed: on AWS, POST /jobs and DELETE /jobs/{job_id} sit behind the
HTTP API's AWS_IAM authorizer (docs/security.md).

Examples per operation: ``OFFPATH_SCHEMATHESIS_EXAMPLES`` (default 25, under
10 s on a 2-core machine); for a long local run::

    OFFPATH_SCHEMATHESIS_EXAMPLES=1000 OFFPATH_HYPOTHESIS_PROFILE=deep \\
        .venv/bin/pytest tests/hostile/test_api_schema.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import functions.shared.tasks  # noqa: F401  (registers the example tasks)
import pytest
import schemathesis
from fastapi.testclient import TestClient
from functions.api.app import app, offpath
from hypothesis import settings
from schemathesis.checks import positive_data_acceptance

from tests import iam_calls
from tests.support import Stack

EXAMPLES = int(os.environ.get("OFFPATH_SCHEMATHESIS_EXAMPLES", "25"))

# The app as ApiFunction serves it: its requests' AWS calls are ApiFunction's
# (tests/iam_calls.py).
API = iam_calls.served_as("ApiFunction", app)
schema = schemathesis.openapi.from_asgi("/openapi.json", API)

# Rules OpenAPI cannot state: whether a task named in the body is durable decides if
# an Idempotency-Key or a delay over 15 minutes is acceptable (a documented 422). Only
# that check, on that one operation, is left out; the others all run.
KNOWN_FINDINGS: dict[str, list[Any]] = {"POST /jobs": [positive_data_acceptance]}


@pytest.fixture
def api(stack: Stack) -> Iterator[Stack]:
    """The stack, as a new API container sees it: clients built on first use."""
    offpath.reset()
    yield stack
    offpath.reset()


@schema.parametrize()
@settings(max_examples=EXAMPLES)
def test_every_generated_request_gets_a_declared_non_5xx_answer(
    case: schemathesis.Case[Any], api: Stack
) -> None:
    case.call_and_validate(excluded_checks=KNOWN_FINDINGS.get(case.operation.label, []))


@pytest.fixture
def client(api: Stack) -> Iterator[TestClient]:
    with TestClient(API) as test_client:
        yield test_client


# A1 (fixed): the Email pattern once used a whitespace class that JSON Schema (ECMA-262)
# and pydantic's Rust regex read differently (U+0085, U+FEFF). Spelled as explicit
# ranges, both dialects agree: NEL and BOM are schema-valid, a space is not.
@pytest.mark.parametrize(
    ("email", "status"),
    [("a\x85b@example.com", 201), ("a\ufeffb@example.com", 201), ("a b@example.com", 422)],
    ids=["NEL", "BOM", "space"],
)
def test_signup_takes_exactly_the_emails_the_schema_takes(
    client: TestClient, email: str, status: int
) -> None:
    assert client.post("/signup", json={"email": email}).status_code == status


# A2 (fixed): delay_seconds once took JSON booleans as integers (pydantic lax mode).
def test_jobs_refuses_a_boolean_delay(client: TestClient) -> None:
    body = {"task": "generate_report", "args": {"user_id": 1, "month": "2026-01"}}
    response = client.post("/jobs", json={**body, "delay_seconds": False})
    assert response.status_code == 422
