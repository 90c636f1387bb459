"""A job from its task's side: the context, progress, and cancellation of running jobs.

The task runs in the worker on the template's queue and table (in-process moto); the
API is the template's HttpApi through its handler (``stack.request``).
"""

from __future__ import annotations

from typing import Any

from offpath.context import JobContext
from offpath.producer import request
from offpath.retry import Backoff
from offpath.store import JobStatus
from offpath.tasks import TaskRegistry
from tests.support import Stack


def _progress_writes(stack: Stack) -> int:
    return sum(
        1
        for p in stack.calls.params("UpdateItem")
        if "progress" in str(p.get("UpdateExpression", ""))
    )


def test_a_task_reads_its_job_id_attempt_correlation_id_and_time_left(stack: Stack) -> None:
    tasks = TaskRegistry()
    seen: list[dict[str, Any]] = []

    @tasks.task(max_attempts=3, backoff=Backoff(base_s=5, jitter="none"), timeout_s=20)
    def flaky(n: int, ctx: JobContext) -> str:
        seen.append(
            {
                "job_id": ctx.job_id,
                "attempt": ctx.attempt,
                "correlation_id": ctx.correlation_id,
                "time_left_s": ctx.time_left_s(),
                "durable": ctx.durable,
            }
        )
        if ctx.attempt == 1:
            raise ConnectionError("try again")
        return "ok"

    worker = stack.worker(tasks)
    job = stack.producer.enqueue(
        request(flaky, 1).__class__(task=flaky, args={"n": 1}, correlation_id="order-9")
    )
    stack.drain(worker)
    stack.advance(6)
    stack.drain(worker)

    assert [(s["job_id"], s["attempt"]) for s in seen] == [(job.job_id, 1), (job.job_id, 2)]
    assert {s["correlation_id"] for s in seen} == {"order-9"}
    assert all(0 < s["time_left_s"] <= 20 and s["durable"] for s in seen)
    assert stack.job(job.job_id).status is JobStatus.SUCCEEDED


def test_progress_shows_in_the_status_api_and_costs_a_bounded_number_of_writes(
    stack: Stack,
) -> None:
    tasks = TaskRegistry()

    @tasks.task
    def chatty(ctx: JobContext) -> str:
        for i in range(1, 501):
            ctx.progress(i / 1000, f"row {i}")
        return "done"

    job = stack.enqueue(chatty)
    stack.calls.clear()
    stack.drain(stack.worker(tasks))

    view = stack.request("GET", f"/jobs/{job.job_id}").json()
    assert view["status"] == "succeeded"
    # 500 calls within a fraction of a second: one write (the first), not 500.
    assert (view["progress"], view["progress_note"]) == (0.001, "row 1")
    assert _progress_writes(stack) == 1
    # claim, progress, succeed: the only writes of the attempt.
    assert stack.calls.dynamodb_writes() == 3


def test_a_job_that_uses_no_context_costs_the_writes_it_always_did(stack: Stack) -> None:
    tasks = TaskRegistry()

    @tasks.task
    def plain(n: int) -> int:
        return n

    stack.enqueue(plain, 1)
    stack.calls.clear()
    stack.drain(stack.worker(tasks))

    assert stack.calls.by_operation()["dynamodb:UpdateItem"] == 2  # claim, succeed
    assert stack.calls.count(service="dynamodb") == 2


def test_a_running_job_cancelled_through_the_api_stops_and_a_redelivery_does_not_run(
    stack: Stack,
) -> None:
    tasks = TaskRegistry()
    runs: list[str] = []
    answers: list[Any] = []

    @tasks.task
    def long_export(ctx: JobContext) -> str:
        runs.append(ctx.job_id)
        # The client's DELETE arrives while the task runs.
        answers.append(stack.request("DELETE", f"/jobs/{ctx.job_id}"))
        for _ in range(1000):
            if ctx.cancelled():
                return "stopped early"
        return "finished"

    worker = stack.worker(tasks)
    job = stack.enqueue(long_export)
    body = stack.calls.params("SendMessage")[-1]["MessageBody"]
    stack.drain(worker)

    (deleted,) = answers
    assert deleted.status_code == 202
    assert deleted.json()["status"] == "running"
    assert deleted.json()["cancel_requested_at"] is not None
    record = stack.job(job.job_id)
    assert record.status is JobStatus.CANCELLED
    assert record.result is None

    stack.send_raw(body)  # SQS delivers it again, late
    stack.drain(worker)
    assert runs == [job.job_id]
    assert stack.job(job.job_id).status is JobStatus.CANCELLED
    assert stack.depth(stack.queue_url) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert stack.request("DELETE", f"/jobs/{job.job_id}").status_code == 409


def test_a_job_failed_and_awaiting_its_retry_is_cancelled_without_running_again(
    stack: Stack,
) -> None:
    tasks = TaskRegistry()
    runs: list[int] = []

    @tasks.task(max_attempts=3, backoff=Backoff(base_s=10, jitter="none"))
    def flaky() -> None:
        runs.append(1)
        raise ConnectionError("down")

    worker = stack.worker(tasks)
    job = stack.enqueue(flaky)
    stack.drain(worker)
    assert stack.job(job.job_id).status is JobStatus.FAILED

    response = stack.request("DELETE", f"/jobs/{job.job_id}")
    stack.advance(11)
    stack.drain(worker)

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert runs == [1]
    assert stack.job(job.job_id).status is JobStatus.CANCELLED


def test_a_cancel_request_outlives_the_attempt_that_died_holding_the_job(stack: Stack) -> None:
    tasks = TaskRegistry()
    runs: list[int] = []

    @tasks.task
    def work() -> None:
        runs.append(1)

    job = stack.enqueue(work)
    # A worker claimed it and died before finishing; then the cancel arrived.
    stack.store.claim(job.job_id, "work", lease_s=1)
    assert stack.store.cancel(job.job_id).cancel_requested_at is not None
    stack.advance(2)
    stack.drain(stack.worker(tasks))

    assert runs == []
    assert stack.job(job.job_id).status is JobStatus.CANCELLED


def test_a_task_that_raises_after_seeing_the_cancel_ends_cancelled_not_retried(
    stack: Stack,
) -> None:
    tasks = TaskRegistry()

    @tasks.task(max_attempts=5)
    def strict(ctx: JobContext) -> None:
        stack.store.cancel(ctx.job_id)
        ctx.raise_if_cancelled()

    job = stack.enqueue(strict)
    stack.drain(stack.worker(tasks))

    record = stack.job(job.job_id)
    assert (record.status, record.attempts) == (JobStatus.CANCELLED, 1)
    assert stack.dead_letters() == []
