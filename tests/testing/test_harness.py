"""offpath.testing, as a user drives it: the template's functions in-process on moto."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from functions.shared import services
from functions.shared.tasks import always_fail, generate_report

from offpath.oneoff import schedule_name_for
from offpath.producer import JobRequest
from offpath.store import JobStatus
from offpath.testing import InvocationError, OffpathStack
from tests.support import TEMPLATE

REPORT = {"user_id": 7, "month": "2026-06"}


def test_a_request_to_the_api_becomes_a_job_the_worker_runs(offpath_stack: OffpathStack) -> None:
    response = offpath_stack.request("POST", "/reports", json=REPORT)

    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert offpath_stack.job(job_id).status is JobStatus.QUEUED
    [batch] = offpath_stack.drain()
    assert (batch.received, batch.deleted) == (1, 1)
    assert offpath_stack.job(job_id).status is JobStatus.SUCCEEDED
    assert [r["user_id"] for r in services.read("report")] == [7]
    assert offpath_stack.functions["WorkerFunction"].invocations[0].error is None


def test_a_path_no_route_serves_is_api_gateways_404(offpath_stack: OffpathStack) -> None:
    # The template's HttpApi has a catch-all route: FastAPI answers for the app.
    response = offpath_stack.request("GET", "/nowhere")

    assert response.status_code == 404
    assert "x-correlation-id" in response.headers


def test_retries_wait_for_the_clock_then_the_job_is_dead_lettered(
    offpath_stack: OffpathStack,
) -> None:
    job = offpath_stack.enqueue(always_fail)

    offpath_stack.drain()
    assert offpath_stack.job(job.job_id).status is JobStatus.FAILED
    assert offpath_stack.drain() == [], "the retry waits for its backoff"
    offpath_stack.advance(5)  # always_fail: backoff 1-2 s, 2 attempts
    offpath_stack.drain()

    assert offpath_stack.job(job.job_id).status is JobStatus.DEAD
    [letter] = offpath_stack.dead_letters()
    assert (letter.job_id, letter.reason, letter.attempts) == (job.job_id, "max_attempts", 2)


def test_a_delay_past_fifteen_minutes_fires_when_the_clock_gets_there(
    offpath_stack: OffpathStack,
) -> None:
    args = generate_report.bind(**REPORT)
    job = offpath_stack.submit(JobRequest(generate_report, args, delay_s=3600))
    assert not isinstance(job, list)
    assert offpath_stack.job(job.job_id).status is JobStatus.SCHEDULED

    # Only the delay's own schedule: the template's may tick in these 30 minutes,
    # depending on the hour the test runs.
    one_off = schedule_name_for(job.job_id)
    assert [name for name, _ in offpath_stack.advance(1800) if name == one_off] == []
    fired = [(n, t) for n, t in offpath_stack.advance(1801) if n.startswith("job-")]
    offpath_stack.drain()

    assert [name for name, _ in fired] == [schedule_name_for(job.job_id)]
    assert offpath_stack.job(job.job_id).status is JobStatus.SUCCEEDED


def test_schedules_fire_on_demand_and_as_the_clock_passes_their_ticks(
    offpath_stack: OffpathStack,
) -> None:
    fired = offpath_stack.fire("DailyDigest")
    offpath_stack.drain()
    assert offpath_stack.job(fired["job_id"]).status is JobStatus.SUCCEEDED

    ticks = offpath_stack.advance(timedelta(days=1).total_seconds())
    offpath_stack.drain()

    assert [name for name, _ in ticks].count("DailyDigest") == 1
    assert len(services.read("digest")) == 2


def test_a_handler_that_raises_fails_its_batch_and_the_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = {"OFFPATH_TASK_MODULES": "no_such_package.tasks"}
    with OffpathStack(TEMPLATE, environment=broken) as stack:
        stack.enqueue(generate_report, **REPORT)

        with pytest.raises(InvocationError, match="no_such_package") as caught:
            stack.drain()

        assert caught.value.function == "WorkerFunction"
        # As on Lambda: nothing was deleted, the message waits for its visibility.
        assert stack.depth(stack.queue_url)["in_flight"] == 1


def test_the_stack_leaves_the_environment_as_it_found_it() -> None:
    before = dict(os.environ)

    with OffpathStack(TEMPLATE) as stack:
        assert os.environ["OFFPATH_TABLE_NAME"] == stack.table_name
        stack.invoke("ApiFunction", _healthz_event())

    assert dict(os.environ) == before


def test_the_clock_runs_for_the_functions_too(offpath_stack: OffpathStack) -> None:
    offpath_stack.advance(timedelta(days=3).total_seconds())
    job = offpath_stack.enqueue(generate_report, **REPORT)
    offpath_stack.drain()

    record = offpath_stack.job(job.job_id)
    assert record.finished_at is not None
    assert record.finished_at > datetime.now(UTC) + timedelta(days=2)


def _healthz_event() -> dict[str, object]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/healthz",
        "rawQueryString": "",
        "headers": {"host": "localhost"},
        "requestContext": {
            "http": {"method": "GET", "path": "/healthz", "sourceIp": "127.0.0.1"},
            "requestId": "r1",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
