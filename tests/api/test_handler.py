"""ApiFunction's Lambda handler, invoked with API Gateway proxy events (HTTP v2, REST v1)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from offpath.envelope import SQS_MAX_MESSAGE_BYTES
from offpath.local.context import LocalContext
from tests.api.conftest import LogLines
from tests.api.events import Reply, http_api_event, reply, rest_api_event
from tests.support import EVENTS, Stack

# The handler silences this at import (most requests record no metric), but pytest
# turns every warning into an error afresh for each test.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REPORT = json.dumps({"user_id": 42, "month": "2026-06"})


Invoke = Callable[[dict[str, Any]], Reply]


@pytest.fixture(scope="module")
def lambda_handler() -> Iterator[Callable[[dict[str, Any], Any], dict[str, Any]]]:
    """ApiFunction's handler, imported once this module owns the thread's event loop.

    Mangum serves every event on the thread's current event loop and sets one up
    when it is built, at import; on Lambda it lasts as long as the container. Here
    it lasts as long as this module and is then closed: imported at collection
    instead, the loop would be orphaned by any ``asyncio.run`` in between and
    reported unclosed at the end of the session.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    from functions.api.handler import handler

    yield handler
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture
def invoke(
    lambda_handler: Callable[[dict[str, Any], Any], dict[str, Any]],
) -> Invoke:
    return lambda event: reply(lambda_handler(event, LocalContext(function_name="ApiFunction")))


def test_the_rest_sample_event_gets_a_health_answer(invoke: Invoke, api: Stack) -> None:
    event = json.loads((EVENTS / "rest-api-get-healthz.json").read_text())

    answer = invoke(event)

    assert (answer.status, answer.body) == (200, {"status": "ok"})
    assert answer.headers["x-correlation-id"] == event["requestContext"]["requestId"]
    assert api.calls.count() == 0


def test_the_http_api_sample_event_enqueues_a_report(invoke: Invoke, api: Stack) -> None:
    event = json.loads((EVENTS / "http-api-post-reports.json").read_text())

    answer = invoke(event)

    assert answer.status == 202
    job_id = answer.body["job_id"]
    assert answer.body["status_url"] == answer.headers["location"] == f"/jobs/{job_id}"
    # Without an X-Correlation-Id header, API Gateway's request id is the correlation id.
    request_id = event["requestContext"]["requestId"]
    assert answer.headers["x-correlation-id"] == request_id
    assert api.store.get(job_id).correlation_id == request_id


@pytest.mark.parametrize(
    ("make_event", "prefix"),
    [
        (lambda **kw: rest_api_event(stage="Prod", **kw), "/Prod"),
        (lambda **kw: http_api_event(stage="$default", **kw), ""),
        (lambda **kw: http_api_event(stage="v1", **kw), "/v1"),
    ],
    ids=["rest-stage", "http-default-stage", "http-named-stage"],
)
def test_status_urls_carry_the_stage_and_lead_to_the_job(
    invoke: Invoke, api: Stack, make_event: Any, prefix: str
) -> None:
    accepted = invoke(make_event(method="POST", path="/reports", body=REPORT))

    assert accepted.status == 202
    job_id = accepted.body["job_id"]
    assert accepted.body["status_url"] == f"{prefix}/jobs/{job_id}"
    assert accepted.headers["location"] == accepted.body["status_url"]
    status = invoke(make_event(method="GET", path=f"/jobs/{job_id}"))
    assert status.status == 200
    assert (status.body["job_id"], status.body["status"]) == (job_id, "queued")


def test_the_callers_correlation_id_reaches_the_job_and_the_logs(
    invoke: Invoke, api: Stack, log_lines: LogLines
) -> None:
    event = http_api_event(body=REPORT, headers={"x-correlation-id": "order-77"})

    answer = invoke(event)

    assert answer.headers["x-correlation-id"] == "order-77"
    (message,) = api.receive_all(api.queue_url)
    assert json.loads(message["Body"])["correlation_id"] == "order-77"
    (enqueued,) = [line for line in log_lines() if line["message"] == "job enqueued"]
    assert enqueued["correlation_id"] == "order-77"
    assert (enqueued["job_id"], enqueued["task"]) == (answer.body["job_id"], "generate_report")
    # Ids and names only: the arguments stay out of the logs.
    assert "2026-06" not in json.dumps(log_lines())


def test_an_invalid_correlation_header_gives_way_to_the_request_id(
    invoke: Invoke, api: Stack
) -> None:
    event = rest_api_event(headers={"X-Correlation-Id": "not valid; " * 20})

    answer = invoke(event)

    assert answer.headers["x-correlation-id"] == event["requestContext"]["requestId"]


def test_an_unknown_job_is_a_json_404(invoke: Invoke, api: Stack) -> None:
    answer = invoke(rest_api_event(path="/jobs/0f8fad5bd9cb469fa16570867728950e"))

    assert answer.status == 404
    assert answer.headers["content-type"] == "application/json"
    assert "no job 0f8fad5bd9cb469fa16570867728950e" in answer.body["detail"]


def test_a_validation_error_names_the_field(invoke: Invoke, api: Stack) -> None:
    answer = invoke(http_api_event(body=json.dumps({"user_id": 42, "month": "June"})))

    assert answer.status == 422
    (error,) = answer.body["detail"]
    assert error["loc"] == ["body", "month"]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "counted"])
def test_an_oversized_body_is_a_json_413(invoke: Invoke, api: Stack, declared: bool) -> None:
    body = json.dumps({"task": "reject", "args": {"reason": "x" * SQS_MAX_MESSAGE_BYTES}})
    event = http_api_event(path="/jobs", body=body)
    if not declared:
        del event["headers"]["content-length"]

    answer = invoke(event)

    assert answer.status == 413
    assert f"over {SQS_MAX_MESSAGE_BYTES} bytes" in answer.body["detail"]
    assert api.calls.count() == 0


def test_a_base64_encoded_body_is_read(invoke: Invoke, api: Stack) -> None:
    answer = invoke(http_api_event(body=REPORT, base64_body=True))

    assert answer.status == 202


def test_signup_through_a_rest_api(invoke: Invoke, api: Stack) -> None:
    body = json.dumps({"email": "ada@example.com"})
    answer = invoke(rest_api_event(method="POST", path="/signup", body=body))

    assert answer.status == 201
    assert answer.body["email"] == "ada@example.com"
    assert api.calls.count("SendMessage") == 1
