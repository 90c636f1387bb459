"""JobQueue through a small app of its own: batching, timing, and misuse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from functions.api.telemetry import logger
from functions.shared.tasks import generate_report, reject, send_welcome_email
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from offpath.envelope import MAX_ARGS_DEPTH, SQS_MAX_MESSAGE_BYTES, Envelope
from offpath.errors import InvalidArguments
from offpath.fastapi import JobQueue, JobQueueDep, Offpath
from offpath.store import DynamoDBJobStore
from offpath.tasks import TaskRegistry
from tests.api.conftest import LogLines
from tests.support import Stack

Events = list[str]


def not_a_task(user_id: int) -> None:
    """Never registered."""


# A container's wiring: OFFPATH_* settings read on the first request, as on Lambda;
# the example API's logger, so that log_lines reads what it logs.
OFFPATH = Offpath(logger=logger)


def make_app() -> FastAPI:
    app = FastAPI()
    OFFPATH.install(app, middleware=False)

    @app.post("/onboard", status_code=202)
    async def onboard(queue: JobQueueDep) -> dict[str, list[str]]:
        queue.add_task(send_welcome_email, "ada@example.com")
        queue.add_task(generate_report, 42, "2026-06")
        queue.add_task(generate_report, user_id=43, month="2026-07")
        return {"job_ids": [job.job_id for job in await queue.flush()]}

    @app.post("/onboard-quietly", status_code=204)
    async def onboard_quietly(queue: JobQueueDep) -> None:
        # No flush: the dependency sends the three in its teardown.
        queue.add_task(send_welcome_email, "ada@example.com")
        queue.add_task(generate_report, 42, "2026-06")
        queue.add_task(generate_report, 43, "2026-07")

    @app.post("/then-fail")
    async def then_fail(queue: JobQueueDep) -> None:
        queue.add_task(generate_report, 42, "2026-06")
        raise HTTPException(409, "changed my mind")

    @app.post("/report/{user_id}", status_code=204)
    async def report(user_id: int, queue: JobQueueDep) -> None:
        queue.add_task(generate_report, user_id, "2026-06")  # the client chose user_id

    @app.post("/unregistered", status_code=204)
    async def unregistered(queue: JobQueueDep) -> None:
        queue.add_task(not_a_task, 42)

    @app.post("/wrong-parameters", status_code=204)
    async def wrong_parameters(queue: JobQueueDep) -> None:
        queue.add_task(generate_report, 42)  # type: ignore[call-arg]  # the bug under test

    @app.post("/reject", status_code=204)
    async def reject_loudly(queue: JobQueueDep, size: int) -> None:
        queue.add_task(reject, "x" * size)

    return app


class ResponseTimeline:
    """ASGI wrapper noting when the response starts, in one list with the SQS sends."""

    def __init__(self, app: FastAPI, events: Events) -> None:
        self.app = app
        self.events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.events.append("response.start")
            await send(message)

        await self.app(scope, receive, noting)


@pytest.fixture
def events(api: Stack) -> Events:
    """Every SQS send of the API's client and the response start, in order."""
    timeline: Events = []

    def note(model: Any, **_: Any) -> None:
        timeline.append(model.name)

    OFFPATH.reset()
    OFFPATH.producer().sqs.meta.events.register("before-call.sqs.*", note)
    producer = OFFPATH.producer()
    assert isinstance(producer.store, DynamoDBJobStore)
    api.calls.attach(producer.sqs)
    api.calls.attach(producer.store.client)
    return timeline


@pytest.fixture
def client(api: Stack, events: Events) -> Iterator[TestClient]:
    with TestClient(ResponseTimeline(make_app(), events)) as test_client:
        yield test_client


def sends(stack: Stack) -> int:
    return stack.calls.count("SendMessageBatch") + stack.calls.count("SendMessage")


def test_three_jobs_of_one_request_are_one_send_message_batch(
    client: TestClient, api: Stack
) -> None:
    response = client.post("/onboard")

    assert response.status_code == 202
    assert len(set(response.json()["job_ids"])) == 3
    assert api.calls.count("SendMessageBatch") == 1
    assert api.calls.count("SendMessage") == 0
    (batch,) = api.calls.params("SendMessageBatch")
    assert len(batch["Entries"]) == 3


@pytest.mark.parametrize("path", ["/onboard", "/onboard-quietly"])
def test_the_jobs_are_sent_before_the_response_starts(
    client: TestClient, events: Events, path: str
) -> None:
    # GIVEN a route that flushes itself, or one that leaves it to the dependency
    # WHEN it answers
    assert client.post(path).status_code in (202, 204)
    # THEN the batch went out before the first byte of the response
    assert events == ["SendMessageBatch", "response.start"]


def test_a_request_that_fails_enqueues_nothing(client: TestClient, api: Stack) -> None:
    response = client.post("/then-fail")

    assert response.status_code == 409
    assert sends(api) == 0
    assert api.calls.dynamodb_writes() == 0


def test_bad_values_from_the_client_are_422_at_the_call(client: TestClient, api: Stack) -> None:
    assert client.post("/report/42").status_code == 204

    response = client.post("/report/0")

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "user_id"]
    assert error["msg"] == "Input should be greater than 0"
    assert sends(api) == 1  # only the first request's job


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/unregistered", "not_a_task is not a registered task"),
        ("/wrong-parameters", "missing a required argument: 'month'"),
    ],
)
def test_misusing_a_task_is_a_bug_a_500_with_the_details_logged(
    client: TestClient, api: Stack, log_lines: LogLines, path: str, logged: str
) -> None:
    response = client.post(path)

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    (line,) = [line for line in log_lines() if line["level"] == "ERROR"]
    assert logged in line["message"]
    assert sends(api) == 0


def test_a_send_failing_in_the_teardown_still_fails_the_response(
    client: TestClient, api: Stack, events: Events
) -> None:
    # GIVEN a route that leaves the send to the dependency, with a job too big for SQS
    response = client.post(f"/reject?size={SQS_MAX_MESSAGE_BYTES}")

    # THEN the client gets the error, not a 204 for a job that was never queued
    assert response.status_code == 413
    assert "exceeds the SQS limit" in response.json()["detail"]
    assert sends(api) == 0
    assert events == ["response.start"]


def test_arguments_nested_deeper_than_the_worker_reads_are_refused(api: Stack) -> None:
    tasks = TaskRegistry()

    @tasks.task
    def store(blob: Any) -> None: ...

    queue = JobQueue(api.producer, tasks)
    within: Any = "x"
    for _ in range(MAX_ARGS_DEPTH - 1):
        within = [within]
    queue.add_task(store, within)
    assert queue.pending == 1
    # What the worker will parse: the deepest envelope it accepts.
    envelope = Envelope.new("store", {"blob": within})
    assert Envelope.from_body(envelope.to_body()) == envelope

    with pytest.raises(InvalidArguments, match="blob: nests deeper than") as excinfo:
        queue.add_task(store, [within])
    assert isinstance(excinfo.value.__cause__, ValidationError)
    assert excinfo.value.__cause__.errors()[0]["type"] == "too_deep"
    assert queue.pending == 1
