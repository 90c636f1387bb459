"""The emulator's own HTTP server answers as API Gateway would, schemathesis included.

tests/hostile/test_api_schema.py drives the app in process (ASGI); this drives it
through `offpath dev`'s HttpApi: real HTTP, the v2 event, a Lambda-like process.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from typing import Any

import functions.shared.tasks  # noqa: F401  (registers the example tasks)
import pytest
import schemathesis
from functions.api.app import app
from hypothesis import settings
from schemathesis.checks import positive_data_acceptance, unsupported_method

from offpath.local.emulator import Emulator, EmulatorOptions
from tests import iam_calls
from tests.emulator.conftest import TEST_BACKEND
from tests.support import TEMPLATE

pytestmark = pytest.mark.emulator
EXAMPLES = int(os.environ.get("OFFPATH_SCHEMATHESIS_EXAMPLES", "10"))
# As in tests/hostile/test_api_schema.py: a rule OpenAPI cannot state.
KNOWN_FINDINGS: dict[str, list[Any]] = {"POST /jobs": [positive_data_acceptance]}
# API Gateway, not the app, answers a method no route key can name (schemathesis
# tries TRACE): 404 {"message": "Not Found"}, as the tests below pin, where the check
# wants the app's 405. The app's own 405s (PUT /healthz) are checked below too.
GATEWAY_ANSWERS = [unsupported_method]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    options = EmulatorOptions(
        template=TEMPLATE,
        api_port=0,
        background=False,
        backend=TEST_BACKEND,
        extra_environment={
            "EXAMPLE_OUTBOX": str(tmp_path_factory.mktemp("http") / "outbox"),
            **iam_calls.function_environment(),
        },
    )
    with Emulator(options, log=lambda line: None) as running:
        yield running


def _raw(emulator: Emulator, method: str, path: str, body: bytes = b"", **headers: str) -> Any:
    assert emulator.http is not None
    connection = http.client.HTTPConnection("127.0.0.1", emulator.http.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_a_body_that_is_not_utf8_gets_an_answer_not_a_closed_connection(
    emulator: Emulator,
) -> None:
    status, headers, body = _raw(
        emulator,
        "POST",
        "/signup",
        b"\xff",
        **{"content-type": "application/x-www-form-urlencoded"},
    )

    # The app refuses it as it would on AWS (the body arrives base64-encoded).
    assert status == 422
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)


def test_a_method_a_route_can_name_but_the_app_lacks_gets_the_apps_405(
    emulator: Emulator,
) -> None:
    status, headers, body = _raw(emulator, "PUT", "/healthz")

    assert (status, json.loads(body)) == (405, {"detail": "Method Not Allowed"})
    assert "allow" in headers


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_an_unsupported_method_gets_api_gateways_json_answer(
    emulator: Emulator, method: str
) -> None:
    status, headers, body = _raw(emulator, method, "/healthz")

    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    assert headers["content-type"] == "application/json"


# The document the app serves, loaded as a plain document: the requests go over HTTP
# to the emulator (a schema loaded from the app itself would call it in process).
schema = schemathesis.openapi.from_dict(app.openapi())


@schema.parametrize()
@settings(max_examples=EXAMPLES)
def test_every_generated_request_through_the_local_http_api_is_answered_as_declared(
    case: schemathesis.Case[Any], emulator: Emulator
) -> None:
    case.call_and_validate(
        base_url=emulator.api_url,
        excluded_checks=[*KNOWN_FINDINGS.get(case.operation.label, []), *GATEWAY_ANSWERS],
    )
