"""The worker runtime on the template's queues and table (in-process moto).

Time moves through the emulator clock, so SQS itself decides what is visible when.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import functions.shared.tasks as example_tasks
import pytest
from functions.shared import services

from offpath.errors import PermanentError
from offpath.invocation import invocation
from offpath.local.context import LocalContext
from offpath.local.events import sqs_event
from offpath.producer import request
from offpath.retry import Backoff
from offpath.store import JobStatus
from offpath.tasks import TaskRegistry, registry
from tests.support import Stack


def test_an_enqueued_job_runs_once_and_ends_succeeded_with_its_result(stack: Stack) -> None:
    job = stack.producer.enqueue(request(example_tasks.generate_report, 42, "2026-06"))

    stack.drain(stack.worker(registry))

    record = stack.store.get(job.job_id)
    assert record.status is JobStatus.SUCCEEDED
    assert record.attempts == 1
    assert record.result == {"url": "https://reports.example.com/42/2026-06.pdf"}
    assert record.finished_at is not None and record.started_at is not None
    assert services.read("report") == [
        {"kind": "report", "user_id": 42, "month": "2026-06", "url": record.result["url"]}
    ]
    assert stack.depth(stack.queue_url) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_transient_failure_is_retried_with_growing_visibility_delays(stack: Stack) -> None:
    tasks = TaskRegistry()
    attempts: list[int] = []

    @tasks.task(max_attempts=5, backoff=Backoff(base_s=10, cap_s=100, jitter="none"))
    def flaky(n: int) -> str:
        attempts.append(n)
        if len(attempts) < 3:
            raise ConnectionError("downstream said 503")
        return "ok"

    worker = stack.worker(tasks)
    job = stack.producer.enqueue(request(flaky, 7))

    stack.drain(worker)  # attempt 1 fails: hidden for 10 s
    assert stack.store.get(job.job_id).status is JobStatus.FAILED
    stack.clock.advance(9)
    stack.drain(worker)
    assert len(attempts) == 1, "the message must stay hidden for its backoff"
    stack.clock.advance(1.5)
    stack.drain(worker)  # attempt 2 fails: hidden for 20 s
    stack.clock.advance(20.5)
    stack.drain(worker)  # attempt 3 succeeds

    delays = [p["VisibilityTimeout"] for p in stack.calls.params("ChangeMessageVisibility")]
    assert delays == [10, 20]
    record = stack.store.get(job.job_id)
    assert (record.status, record.attempts, record.result) == (JobStatus.SUCCEEDED, 3, "ok")
    assert record.last_error is not None
    assert record.last_error.type == "ConnectionError"
    assert stack.dead_letters() == []


def test_exhausted_attempts_make_the_job_dead_and_dead_lettered_with_its_reason(
    stack: Stack,
) -> None:
    job = stack.producer.enqueue(request(example_tasks.always_fail))
    worker = stack.worker(registry)

    stack.drain(worker)
    stack.clock.advance(1.5)  # always_fail: max_attempts=2, backoff 1 s
    stack.drain(worker)

    record = stack.store.get(job.job_id)
    assert (record.status, record.attempts) == (JobStatus.DEAD, 2)
    assert record.last_error is not None
    assert record.last_error.type == "RuntimeError"
    [letter] = stack.dead_letters()
    assert letter.reason == "max_attempts"
    assert letter.job_id == job.job_id
    assert letter.task == "always_fail"
    assert letter.attempts == 2
    assert letter.error_type == "RuntimeError"
    assert letter.error_message == "always_fail failed, as it always does"
    assert json.loads(letter.body)["task"] == "always_fail", "the body is kept as sent, for redrive"
    assert stack.depth(stack.queue_url) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_permanent_error_goes_to_the_dlq_at_once(stack: Stack) -> None:
    job = stack.producer.enqueue(request(example_tasks.reject, "card declined for good"))

    stack.drain(stack.worker(registry))

    assert stack.store.get(job.job_id).status is JobStatus.DEAD
    [letter] = stack.dead_letters()
    assert (letter.reason, letter.error_type) == ("permanent_error", "PermanentError")
    assert stack.calls.count("ChangeMessageVisibility") == 0


def _body(task: str, args: dict[str, Any], job_id: str) -> str:
    return json.dumps(
        {
            "v": 1,
            "job_id": job_id,
            "task": task,
            "args": args,
            "enqueued_at": "2026-06-01T00:00:00Z",
            "correlation_id": "c-" + job_id,
        }
    )


def test_bad_messages_go_to_the_dlq_at_once_and_never_fail_their_neighbours(
    stack: Stack,
) -> None:
    good = [
        stack.producer.enqueue(request(example_tasks.generate_report, n, "2026-01")) for n in (1, 2)
    ]
    stack.send_raw("{not json")
    stack.send_raw(_body("no_such_task", {}, "job-unknown"))
    stack.send_raw(_body("generate_report", {"user_id": "abc", "month": "June"}, "job-badargs"))

    responses: list[dict[str, Any]] = []
    worker = stack.worker(registry)

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        responses.append(worker.handle(event, LocalContext()))
        return responses[-1]

    stack.esm(batch_size=10).drain(invoke)

    assert [len(r["batchItemFailures"]) for r in responses] == [0]
    assert {stack.store.get(j.job_id).status for j in good} == {JobStatus.SUCCEEDED}
    letters = {(d.reason, d.job_id): d for d in stack.dead_letters()}
    assert set(letters) == {
        ("malformed", None),
        ("unknown_task", "job-unknown"),
        ("invalid_arguments", "job-badargs"),
    }
    assert "body is not JSON" in (letters[("malformed", None)].error_message or "")
    bad_args = letters[("invalid_arguments", "job-badargs")].error_message or ""
    assert "user_id: Input should be a valid integer" in bad_args
    assert "month: String should match pattern" in bad_args
    assert stack.depth(stack.queue_url) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_the_same_message_delivered_twice_runs_the_task_once(stack: Stack) -> None:
    stack.producer.enqueue(request(example_tasks.generate_report, 5, "2026-02"))
    [message] = stack.receive_all(stack.queue_url)
    event = sqs_event([message], stack.queue_arn, "us-east-1")
    first = stack.worker(registry).handle(event, LocalContext())
    second = stack.worker(registry).handle(event, LocalContext())  # another container

    assert first == second == {"batchItemFailures": []}
    assert len(services.read("report")) == 1


def test_concurrent_duplicate_deliveries_run_the_task_once(stack: Stack) -> None:
    tasks = TaskRegistry()
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []

    @tasks.task(timeout_s=10)
    def slow(key: str) -> None:
        runs.append(key)
        started.set()
        release.wait(5)

    job = stack.producer.enqueue(request(slow, "k"))
    [message] = stack.receive_all(stack.queue_url)
    event = sqs_event([message], stack.queue_arn, "us-east-1")
    results: dict[str, dict[str, Any]] = {}
    first = threading.Thread(
        target=lambda: results.update(a=stack.worker(tasks).handle(event, LocalContext()))
    )
    first.start()
    assert started.wait(5)
    # A second delivery while the first holds the claim: handed back, not run.
    results["b"] = stack.worker(tasks).handle(event, LocalContext())
    release.set()
    first.join(5)
    # Redelivered again after the first finished: acknowledged, not run.
    results["c"] = stack.worker(tasks).handle(event, LocalContext())

    assert runs == ["k"]
    assert results["a"] == results["c"] == {"batchItemFailures": []}
    assert results["b"] == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert stack.store.get(job.job_id).status is JobStatus.SUCCEEDED


def test_a_crashed_attempt_is_reclaimed_after_its_lease_and_the_charge_happens_once(
    stack: Stack,
) -> None:
    job = stack.producer.enqueue(request(example_tasks.charge_customer, "pay_1"))
    # GIVEN an attempt that charged and then died before recording success
    claim = stack.store.claim(job.job_id, "charge_customer", lease_s=35)
    assert claim.attempts == 1
    with invocation(LocalContext()):
        example_tasks.charge_customer.run({"payment_id": "pay_1"})
    # WHEN its lease runs out and SQS redelivers after the visibility timeout
    stack.clock.advance(361)
    stack.drain(stack.worker(registry))
    # THEN the job is reclaimed and succeeds, and the customer was charged once
    record = stack.store.get(job.job_id)
    assert (record.status, record.attempts) == (JobStatus.SUCCEEDED, 2)
    assert services.read("charge") == [{"kind": "charge", "payment_id": "pay_1"}]


def test_a_record_that_cannot_finish_before_the_lambda_timeout_is_handed_back(
    stack: Stack,
) -> None:
    jobs = [
        stack.producer.enqueue(request(example_tasks.generate_report, n, "2026-03")) for n in (1, 2)
    ]
    messages = stack.receive_all(stack.queue_url)
    event = sqs_event(messages, stack.queue_arn, "us-east-1")
    # generate_report may take 30 s; this invocation has 20 s left. The first record
    # runs with what is left (no invocation would have more); the second goes back.
    short = LocalContext(timeout_s=20)

    response = stack.worker(registry).handle(event, short)

    assert response == {"batchItemFailures": [{"itemIdentifier": messages[1]["MessageId"]}]}
    statuses = [stack.store.get(j.job_id).status for j in jobs]
    assert statuses == [JobStatus.SUCCEEDED, JobStatus.QUEUED]
    assert len(services.read("report")) == 1
    assert stack.depth(stack.queue_url)["visible"] == 1, "visible again at once"


def test_a_task_over_its_timeout_is_a_retryable_failure(stack: Stack) -> None:
    tasks = TaskRegistry()

    @tasks.task(timeout_s=0.2, backoff=Backoff(base_s=30, cap_s=30, jitter="none"))
    def hangs() -> None:
        threading.Event().wait(5)

    job = stack.producer.enqueue(request(hangs))
    stack.drain(stack.worker(tasks))

    record = stack.store.get(job.job_id)
    assert record.status is JobStatus.FAILED
    assert record.last_error is not None
    assert record.last_error.type == "TaskTimeout"


def test_fire_and_forget_jobs_write_nothing_and_are_not_retried(stack: Stack) -> None:
    tasks = TaskRegistry()
    calls: list[str] = []

    @tasks.task(durable=False)
    def ping(to: str) -> None:
        calls.append(to)
        raise PermanentError("mail server down")

    stack.producer.enqueue(request(ping, "a@example.com"))
    stack.drain(stack.worker(tasks))
    stack.clock.advance(400)
    stack.drain(stack.worker(tasks))

    assert calls == ["a@example.com"]
    assert stack.calls.dynamodb_writes() == 0
    assert stack.dead_letters() == []


def test_happy_path_durable_job_costs_three_writes_and_no_worker_reads(stack: Stack) -> None:
    stack.producer.enqueue(request(example_tasks.generate_report, 3, "2026-04"))
    stack.drain(stack.worker(registry))

    assert stack.calls.dynamodb_writes() == 3
    assert stack.calls.count("GetItem") == 0
    sqs_calls = {k: v for k, v in stack.calls.by_operation().items() if k.startswith("sqs:")}
    # The second receive is the drain finding the queue empty.
    assert sqs_calls == {"sqs:SendMessage": 1, "sqs:ReceiveMessage": 2, "sqs:DeleteMessageBatch": 1}


def test_worker_handler_accepts_the_sam_generated_sqs_event(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support import EVENTS

    event = json.loads((EVENTS / "sqs.json").read_text())
    import functions.worker.handler as worker_handler

    worker_handler.worker.cache_clear()
    response = worker_handler.handler(event, LocalContext(function_name="WorkerFunction"))

    assert response == {"batchItemFailures": []}
    job_id = json.loads(event["Records"][0]["body"])["job_id"]
    assert stack.store.get(job_id).status is JobStatus.SUCCEEDED
    worker_handler.worker.cache_clear()


def test_a_dead_letter_redriven_by_the_console_runs_again(stack: Stack) -> None:
    # GIVEN a job that died and sits in the DLQ with our reason attributes
    job = stack.producer.enqueue(request(example_tasks.reject, "first time"))
    stack.drain(stack.worker(registry))
    assert stack.store.get(job.job_id).status is JobStatus.DEAD
    [letter] = stack.receive_all(stack.dlq_url)
    # WHEN an operator moves it back as the console's redrive does: body and attributes
    # unchanged, and no chance to reset the job record
    stack.clients.sqs.send_message(
        QueueUrl=stack.queue_url,
        MessageBody=letter["Body"],
        MessageAttributes={
            k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
            for k, v in letter["MessageAttributes"].items()
        },
    )
    tasks = TaskRegistry()

    @tasks.task(name="reject", max_attempts=1)
    def fixed(reason: str = "") -> str:
        return "fixed"

    stack.drain(stack.worker(tasks))
    # THEN the worker resets the record and runs the job, instead of acknowledging it
    record = stack.store.get(job.job_id)
    assert (record.status, record.result, record.attempts) == (JobStatus.SUCCEEDED, "fixed", 1)


def test_a_duplicate_of_a_dead_jobs_original_message_is_not_run_again(stack: Stack) -> None:
    job = stack.producer.enqueue(request(example_tasks.reject, "no"))
    [message] = stack.receive_all(stack.queue_url)
    event = sqs_event([message], stack.queue_arn, "us-east-1")
    stack.worker(registry).handle(event, LocalContext())

    stack.worker(registry).handle(event, LocalContext())  # delivered twice

    assert stack.store.get(job.job_id).status is JobStatus.DEAD
    assert len(stack.dead_letters()) == 1


def test_a_body_at_the_size_limit_is_dead_lettered_without_attributes(stack: Stack) -> None:
    # SQS counts attributes toward the 1 MiB limit: a body that fills it has no room
    # for the reason, so it goes bare (the reason is logged) rather than bouncing.
    base = _body("generate_report", {"user_id": 1, "month": "2026-01", "pad": ""}, "big-1")
    body = base.replace('"pad": ""', '"pad": "' + "x" * (1_048_576 - len(base)) + '"')
    assert len(body.encode()) == 1_048_576
    stack.send_raw(body)

    stack.drain(stack.worker(registry))

    [message] = stack.receive_all(stack.dlq_url)
    assert message["Body"] == body
    assert "MessageAttributes" not in message
    assert stack.depth(stack.queue_url) == {"visible": 0, "in_flight": 0, "delayed": 0}
