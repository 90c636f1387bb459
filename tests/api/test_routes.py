"""Each route's success and error paths, through FastAPI's TestClient on the moto stack."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from fastapi.testclient import TestClient
from functions.api.app import offpath

from offpath.envelope import SQS_MAX_MESSAGE_BYTES
from offpath.errors import JobNotFound
from tests.api.conftest import API
from tests.support import Stack

REPORT = {"user_id": 42, "month": "2026-06"}


def sends(stack: Stack) -> int:
    return stack.calls.count("SendMessageBatch") + stack.calls.count("SendMessage")


def queued_envelopes(stack: Stack) -> list[dict[str, Any]]:
    """The bodies of the queue's messages (which stay in flight afterwards)."""
    return [json.loads(m["Body"]) for m in stack.receive_all(stack.queue_url)]


def only_error(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert set(error) == {"loc", "msg", "type"}
    return dict(error)


# ---------------------------------------------------------------- /healthz


def test_healthz_answers_without_building_a_client(stack: Stack) -> None:
    offpath.reset()
    calls_before = stack.calls.count()

    response = TestClient(API).get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert stack.calls.count() == calls_before
    assert not offpath.producer.built


def test_clients_are_built_once_per_container(client: TestClient, api: Stack) -> None:
    built = offpath.producer()
    for _ in range(3):
        assert client.post("/reports", json=REPORT).status_code == 202
    assert offpath.producer() is built


# ---------------------------------------------------------------- /signup


def test_signup_answers_201_and_queues_the_welcome_email(client: TestClient, api: Stack) -> None:
    response = client.post("/signup", json={"email": "ada@example.com"})

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ada@example.com"
    assert isinstance(body["user_id"], int)
    assert body["user_id"] > 0
    assert sends(api) == 1
    (envelope,) = queued_envelopes(api)
    assert envelope["task"] == "send_welcome_email"
    assert envelope["args"] == {"email": "ada@example.com"}
    # Fire-and-forget: no record was written.
    assert api.calls.dynamodb_writes() == 0
    with pytest.raises(JobNotFound):
        api.store.get(envelope["job_id"])


def test_signup_rejects_a_malformed_email_and_sends_nothing(client: TestClient, api: Stack) -> None:
    error = only_error(client.post("/signup", json={"email": "not-an-email"}))

    assert error["loc"] == ["body", "email"]
    assert error["msg"].startswith("String should match pattern")
    assert sends(api) == 0


# ---------------------------------------------------------------- /reports


def test_report_is_accepted_with_a_handle_to_poll(client: TestClient, api: Stack) -> None:
    response = client.post("/reports", json=REPORT)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["status_url"] == f"/jobs/{body['job_id']}"
    assert response.headers["location"] == body["status_url"]
    assert (body["durable"], body["duplicate"]) == (True, False)
    assert api.store.get(body["job_id"]).status == "queued"
    assert sends(api) == 1


@pytest.mark.parametrize(
    ("payload", "loc", "msg"),
    [
        ({"user_id": 0, "month": "2026-06"}, ["body", "user_id"], "Input should be greater than 0"),
        ({"user_id": "x", "month": "2026-06"}, ["body", "user_id"], "Input should be a valid"),
        ({"user_id": 42, "month": "2026-13"}, ["body", "month"], "String should match pattern"),
        ({"user_id": 42}, ["body", "month"], "Field required"),
        ({**REPORT, "format": "pdf"}, ["body", "format"], "Extra inputs are not permitted"),
    ],
)
def test_report_errors_name_the_field(
    client: TestClient, api: Stack, payload: dict[str, Any], loc: list[str], msg: str
) -> None:
    error = only_error(client.post("/reports", json=payload))

    assert error["loc"] == loc
    assert error["msg"].startswith(msg)
    assert sends(api) == 0


def test_status_url_is_under_the_root_path(api: Stack) -> None:
    with TestClient(API, root_path="/Prod") as staged:
        response = staged.post("/reports", json=REPORT)

    body = response.json()
    assert body["status_url"] == f"/Prod/jobs/{body['job_id']}"
    assert response.headers["location"] == body["status_url"]


# ---------------------------------------------------------------- /payments


def test_charging_a_payment_twice_is_one_job(client: TestClient, api: Stack) -> None:
    first = client.post("/payments/pay_123/charge")
    second = client.post("/payments/pay_123/charge")

    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert second.json()["status"] == "queued"
    # The record still waits: sent again, as the first send may have been lost.
    assert sends(api) == 2
    api.drain()
    assert api.job(first.json()["job_id"]).attempts == 1
    client.post("/payments/pay_123/charge")
    assert sends(api) == 2, "a finished job is never sent again"


@pytest.mark.parametrize("payment_id", ["bad id!", "x" * 65, "p%C3%A9"])
def test_payment_ids_are_validated(client: TestClient, api: Stack, payment_id: str) -> None:
    error = only_error(client.post(f"/payments/{payment_id}/charge"))

    assert error["loc"] == ["path", "payment_id"]
    assert sends(api) == 0


# ---------------------------------------------------------------- POST /jobs


def test_any_registered_task_can_be_enqueued_by_name(client: TestClient, api: Stack) -> None:
    response = client.post("/jobs", json={"task": "generate_report", "args": REPORT})

    assert response.status_code == 202
    job = client.get(response.json()["status_url"])
    assert job.status_code == 200
    view = job.json()
    assert (view["task"], view["status"], view["attempts"]) == ("generate_report", "queued", 0)
    assert view["correlation_id"] == response.headers["x-correlation-id"]
    assert view["result"] is None
    assert view["last_error"] is None


def test_delay_seconds_becomes_the_sqs_delay(client: TestClient, api: Stack) -> None:
    response = client.post(
        "/jobs", json={"task": "generate_report", "args": REPORT, "delay_seconds": 30}
    )

    assert response.status_code == 202
    (params,) = api.calls.params("SendMessage")
    assert params["DelaySeconds"] == 30
    assert api.depth(api.queue_url)["delayed"] == 1


def test_fire_and_forget_jobs_are_accepted_but_keep_no_record(
    client: TestClient, api: Stack
) -> None:
    response = client.post(
        "/jobs", json={"task": "send_welcome_email", "args": {"email": "ada@example.com"}}
    )

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["durable"]) == ("queued", False)
    missing = client.get(body["status_url"])
    assert missing.status_code == 404
    assert "fire-and-forget" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("payload", "loc", "msg", "type_"),
    [
        (
            {"task": "nope", "args": {}},
            ["body", "task"],
            "unknown task 'nope'",
            "unknown_task",
        ),
        (
            {"task": "generate_report", "args": {"user_id": 0, "month": "2026-06"}},
            ["body", "args", "user_id"],
            "Input should be greater than 0",
            "greater_than",
        ),
        (
            {"task": "generate_report", "args": {"user_id": 42}},
            ["body", "args", "month"],
            "Field required",
            "missing",
        ),
        (
            {"task": "generate_report", "args": {**REPORT, "colour": "red"}},
            ["body", "args", "colour"],
            "Extra inputs are not permitted",
            "extra_forbidden",
        ),
        (
            {"task": "generate_report", "args": [42, "2026-06"]},
            ["body", "args"],
            "Input should be a valid dictionary",
            "dict_type",
        ),
        (
            {"task": "generate_report", "args": REPORT, "delay_seconds": 365 * 86400 + 1},
            ["body", "delay_seconds"],
            "Input should be less than or equal to 31536000",
            "less_than_equal",
        ),
        (
            {"task": "generate_report", "args": REPORT, "delay_seconds": 10**40},
            ["body", "delay_seconds"],
            "Input should be less than or equal to 31536000",
            "less_than_equal",
        ),
        (
            {"task": "generate_report", "args": REPORT, "priority": 1},
            ["body", "priority"],
            "Extra inputs are not permitted",
            "extra_forbidden",
        ),
    ],
)
def test_job_submission_errors_are_precise(
    client: TestClient,
    api: Stack,
    payload: dict[str, Any],
    loc: list[str],
    msg: str,
    type_: str,
) -> None:
    error = only_error(client.post("/jobs", json=payload))

    assert error["loc"] == loc
    assert error["msg"].startswith(msg)
    assert error["type"] == type_
    assert sends(api) == 0
    assert api.calls.dynamodb_writes() == 0


@pytest.mark.parametrize(
    ("args", "loc"),
    [
        ('{"reason": "\\ud800"}', ["body", "args", "reason"]),
        ('{"reason": "ok", "\\udfff": 1}', ["body", "args"]),
    ],
)
def test_text_that_utf8_cannot_carry_is_a_422(
    client: TestClient, api: Stack, args: str, loc: list[str]
) -> None:
    # A lone surrogate is legal JSON text but no UTF-8: SQS could not carry it.
    raw = f'{{"task": "reject", "args": {args}}}'
    response = client.post("/jobs", content=raw, headers={"content-type": "application/json"})

    error = only_error(response)
    assert error["loc"] == loc
    assert error["type"] == "string_unicode"
    assert sends(api) == 0


@pytest.mark.parametrize(
    ("content", "content_type", "msg"),
    [
        ('{"task": ', "application/json", "JSON decode error"),
        # curl -d sends the form type: read as JSON (JsonByDefault), so not JSON here.
        ("task=generate_report", "application/x-www-form-urlencoded", "JSON decode error"),
        ("generate_report", "text/plain", "Input should be a valid"),
        ("", "application/json", "Field required"),
        ('{"task": "reject", "args": {"reason": ' + "9" * 5000 + "}}", "application/json", "JSON"),
        ("[" * 100_000 + "]" * 100_000, "application/json", "JSON decode error"),
        ("null", "application/json", "Input should be a valid dictionary"),
        ('"just a string"', "application/json", "Input should be a valid"),
    ],
)
def test_bodies_that_are_not_a_job_are_422_never_500(
    client: TestClient, api: Stack, content: str, content_type: str, msg: str
) -> None:
    response = client.post("/jobs", content=content, headers={"content-type": content_type})

    error = only_error(response)
    assert error["loc"][0] == "body"
    assert error["msg"].startswith(msg)


def test_an_idempotency_key_names_one_job(client: TestClient, api: Stack) -> None:
    submission = {"task": "generate_report", "args": REPORT}
    key = {"Idempotency-Key": "report-42-2026-06"}

    first = client.post("/jobs", json=submission, headers=key)
    second = client.post("/jobs", json=submission, headers=key)

    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]
    assert second.json()["duplicate"] is True
    assert sends(api) == 2  # the record still waits: sent again, harmless


@pytest.mark.parametrize(
    "other",
    [
        {"task": "generate_report", "args": {"user_id": 43, "month": "2026-06"}},
        {"task": "charge_customer", "args": {"payment_id": "pay_1"}},
    ],
)
def test_reusing_a_key_for_another_call_is_a_409(
    client: TestClient, api: Stack, other: dict[str, Any]
) -> None:
    key = {"Idempotency-Key": "k-1"}
    assert client.post("/jobs", json={"task": "generate_report", "args": REPORT}, headers=key)

    response = client.post("/jobs", json=other, headers=key)

    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]
    assert sends(api) == 1


def test_an_idempotency_key_needs_a_durable_task(client: TestClient, api: Stack) -> None:
    response = client.post(
        "/jobs",
        json={"task": "send_welcome_email", "args": {"email": "ada@example.com"}},
        headers={"Idempotency-Key": "welcome-ada"},
    )

    error = only_error(response)
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert "fire-and-forget" in error["msg"]
    assert sends(api) == 0


@pytest.mark.parametrize("key", ["", "two words", "k" * 256])
def test_idempotency_keys_are_validated(client: TestClient, api: Stack, key: str) -> None:
    response = client.post(
        "/jobs",
        json={"task": "generate_report", "args": REPORT},
        headers={"Idempotency-Key": key},
    )

    assert only_error(response)["loc"] == ["header", "Idempotency-Key"]


def test_a_body_over_the_sqs_limit_is_413_before_it_is_read(client: TestClient, api: Stack) -> None:
    reason = "x" * SQS_MAX_MESSAGE_BYTES
    response = client.post("/jobs", json={"task": "reject", "args": {"reason": reason}})

    assert response.status_code == 413
    assert f"over {SQS_MAX_MESSAGE_BYTES} bytes" in response.json()["detail"]
    assert api.calls.count() == 0


def test_a_job_message_over_the_sqs_limit_is_413_with_nothing_written(
    client: TestClient, api: Stack
) -> None:
    # The body fits, the envelope around it (ids, timestamps) does not.
    reason = "x" * (SQS_MAX_MESSAGE_BYTES - 100)
    response = client.post("/jobs", json={"task": "reject", "args": {"reason": reason}})

    assert response.status_code == 413
    assert "exceeds the SQS limit" in response.json()["detail"]
    assert api.calls.count() == 0


# ---------------------------------------------------------------- GET /jobs/{job_id}


def test_an_unknown_job_is_a_404_with_a_json_body(client: TestClient, api: Stack) -> None:
    response = client.get("/jobs/0f8fad5bd9cb469fa16570867728950e")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "detail": "no job 0f8fad5bd9cb469fa16570867728950e (fire-and-forget jobs keep no record)"
    }


@pytest.mark.parametrize("job_id", ["-starts-with-a-dash", "j" * 129, "sp ace"])
def test_malformed_job_ids_are_422(client: TestClient, api: Stack, job_id: str) -> None:
    assert only_error(client.get(f"/jobs/{job_id}"))["loc"] == ["path", "job_id"]
    assert api.calls.count() == 0


# ---------------------------------------------------------------- correlation id


def test_the_callers_correlation_id_is_echoed_and_carried_by_the_job(
    client: TestClient, api: Stack
) -> None:
    response = client.post("/reports", json=REPORT, headers={"X-Correlation-Id": "order-77"})

    assert response.headers["x-correlation-id"] == "order-77"
    assert api.store.get(response.json()["job_id"]).correlation_id == "order-77"
    (envelope,) = queued_envelopes(api)
    assert envelope["correlation_id"] == "order-77"


@pytest.mark.parametrize("header", ["has space", "x" * 129, "-leading-dash", "ünï"])
def test_an_invalid_correlation_id_is_replaced(client: TestClient, api: Stack, header: str) -> None:
    headers = {b"X-Correlation-Id": header.encode()}  # bytes: the header may be UTF-8
    response = client.post("/reports", json=REPORT, headers=headers)

    assert response.status_code == 202
    replaced = response.headers["x-correlation-id"]
    assert replaced != header
    assert len(replaced) == 32
    assert api.store.get(response.json()["job_id"]).correlation_id == replaced


def test_every_response_carries_a_correlation_id(client: TestClient, api: Stack) -> None:
    for response in (
        client.get("/healthz"),
        client.get("/jobs/nope"),
        client.post("/jobs", json={}),
    ):
        assert response.headers["x-correlation-id"]


# ---------------------------------------------------------------- AWS failing


@pytest.mark.parametrize(
    ("variable", "call"),
    [
        ("OFFPATH_QUEUE_URL", lambda c: c.post("/reports", json=REPORT)),
        ("OFFPATH_TABLE_NAME", lambda c: c.get("/jobs/0f8fad5bd9cb469fa16570867728950e")),
    ],
    ids=["sqs", "dynamodb"],
)
def test_aws_failing_is_a_503_to_retry_and_leaves_no_record(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, variable: str, call: Any
) -> None:
    # GIVEN a new container wired to a queue or a table that does not exist
    monkeypatch.setenv(variable, os.environ[variable] + "-gone")
    offpath.reset()

    response = call(TestClient(API))

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json() == {"detail": "the job service is unavailable; retry later"}
    # A report whose message could not be sent leaves no record behind.
    assert not stack.clients.dynamodb.scan(TableName=stack.provisioned.table_name())["Items"]
    offpath.reset()


# ---------------------------------------------------------------- methods


@pytest.mark.parametrize(
    ("path", "allowed"),
    [("/jobs/0f8fad5bd9cb469fa16570867728950e", "DELETE, GET"), ("/jobs", "POST")],
)
def test_a_method_the_path_does_not_serve_is_a_405_naming_those_it_does(
    client: TestClient, path: str, allowed: str
) -> None:
    # The job routes come from an included router: its routes must be counted too.
    response = client.put(path, json={})

    assert response.status_code == 405
    assert response.headers["allow"] == allowed
