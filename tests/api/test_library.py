"""offpath.fastapi in an app of the user's own: the router under any prefix, the handles,
the OpenAPI, and the errors it translates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from functions.shared.tasks import generate_report, send_welcome_email

from offpath.fastapi import (
    ACCEPTED,
    JobAccepted,
    JobQueueDep,
    Offpath,
    accepted,
    error_responses,
    jobs_router,
)
from tests.support import Stack

PREFIX = "/internal/v1/jobs"


def make_app(*, mount: bool) -> FastAPI:
    app = FastAPI(title="shop")
    Offpath().install(app)
    if mount:
        app.include_router(jobs_router(tags=["internal"]), prefix=PREFIX)

    @app.post("/orders", status_code=202, responses={**ACCEPTED, **error_responses(422)})
    async def order(jobs: JobQueueDep, request: Request, response: Response) -> JobAccepted:
        jobs.add_task(generate_report, 7, "2026-06")
        (job,) = await jobs.flush()
        return accepted(request, response, job)

    @app.post("/remind", status_code=204)
    async def remind(jobs: JobQueueDep, delay_s: int) -> None:
        # A delay the client chose, for a task that keeps no record.
        jobs.add(send_welcome_email, {"email": "ada@example.com"}, delay_s=delay_s)

    return app


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(make_app(mount=True)) as test_client:
        yield test_client


def test_the_router_serves_its_endpoints_under_the_prefix_chosen(
    client: TestClient, stack: Stack
) -> None:
    created = client.post(
        PREFIX, json={"task": "generate_report", "args": {"user_id": 1, "month": "2026-06"}}
    )

    assert created.status_code == 202, created.text
    job_id = created.json()["job_id"]
    assert created.json()["status_url"] == created.headers["location"] == f"{PREFIX}/{job_id}"
    assert client.get(f"{PREFIX}/{job_id}").json()["status"] == "queued"
    assert client.delete(f"{PREFIX}/{job_id}").json()["status"] == "cancelled"
    assert client.post("/jobs", json={"task": "generate_report"}).status_code == 404


def test_the_apps_own_routes_get_handles_that_point_at_the_router(client: TestClient) -> None:
    response = client.post("/orders")

    assert response.status_code == 202
    assert response.json()["status_url"] == f"{PREFIX}/{response.json()['job_id']}"


def test_without_the_router_a_handle_has_no_status_url(stack: Stack) -> None:
    response = TestClient(make_app(mount=False)).post("/orders")

    assert response.status_code == 202
    assert response.json()["status_url"] is None
    assert "location" not in response.headers
    assert response.json()["job_id"] in {m["job_id"] for m in _bodies(stack)}


def test_the_document_lists_each_task_under_the_prefix(client: TestClient) -> None:
    document: dict[str, Any] = client.get("/openapi.json").json()

    body = document["paths"][PREFIX]["post"]["requestBody"]["content"]["application/json"]
    mapping = body["schema"]["discriminator"]["mapping"]
    assert {"generate_report", "send_welcome_email"} <= set(mapping)
    assert document["paths"][PREFIX]["post"]["tags"] == ["internal"]
    header = [p["name"] for p in document["paths"]["/orders"]["post"]["parameters"]]
    assert header == ["X-Correlation-Id"]


def test_a_delivery_option_the_task_cannot_have_is_a_422_naming_it(
    client: TestClient, stack: Stack
) -> None:
    assert client.post("/remind?delay_s=60").status_code == 204

    response = client.post("/remind?delay_s=3600")

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["job", "delay_s"], "delay_unsupported")
    assert stack.depth(stack.queue_url)["delayed"] == 1, "only the first request's job was sent"


def test_an_app_without_offpath_installed_says_so(stack: Stack) -> None:
    app = FastAPI()

    @app.post("/orders", status_code=204)
    async def order(jobs: JobQueueDep) -> None: ...

    with pytest.raises(Exception, match=r"call Offpath\(\)\.install\(app\)"):
        TestClient(app).post("/orders")


def _bodies(stack: Stack) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in stack.receive_all(stack.queue_url)]
