"""The producer: batching, per-entry retries, idempotency, delays, size limits."""

from __future__ import annotations

import json
from typing import Any

import functions.shared.tasks as example_tasks
import pytest

from offpath.envelope import SQS_MAX_MESSAGE_BYTES, Envelope
from offpath.errors import ConfigurationError, EnqueueError, JobNotFound, PayloadTooLarge
from offpath.producer import (
    MAX_SCHEDULE_S,
    IdempotencyConflict,
    JobRequest,
    Producer,
    job_id_for_key,
    request,
)
from offpath.store import JobStatus
from offpath.tasks import TaskRegistry, registry
from tests.support import Stack


def test_a_bulk_enqueue_of_25_jobs_makes_exactly_3_batch_calls(stack: Stack) -> None:
    jobs = [request(example_tasks.generate_report, n, "2026-05") for n in range(1, 26)]

    handles = stack.producer.enqueue_many(jobs)

    assert stack.calls.count("SendMessageBatch") == 3
    assert stack.calls.count("SendMessage") == 0
    assert [len(p["Entries"]) for p in stack.calls.params("SendMessageBatch")] == [10, 10, 5]
    assert len({h.job_id for h in handles}) == 25
    assert stack.depth(stack.queue_url)["visible"] == 25
    assert stack.calls.dynamodb_writes() == 25


def _fail_first_entry_once(stack: Stack, *, sender_fault: bool) -> list[str]:
    """Fault injection: SQS reports one entry of the next batch as failed.

    AWS does this per entry (InternalError on its side, InvalidMessageContents on
    the sender's); moto never does, so the parsed response is altered once.
    """
    injected: list[str] = []

    def fail_one_entry(parsed: dict[str, Any], **_: Any) -> None:
        if not injected and parsed.get("Successful"):
            entry = parsed["Successful"].pop(0)
            injected.append(entry["Id"])
            code = "InvalidMessageContents" if sender_fault else "InternalError"
            parsed.setdefault("Failed", []).append(
                {"Id": entry["Id"], "SenderFault": sender_fault, "Code": code}
            )

    stack.clients.sqs.meta.events.register("after-call.sqs.SendMessageBatch", fail_one_entry)
    return injected


def test_failed_batch_entries_are_retried_alone(stack: Stack) -> None:
    injected = _fail_first_entry_once(stack, sender_fault=False)
    jobs = [request(example_tasks.generate_report, n, "2026-05") for n in range(1, 4)]

    stack.producer.enqueue_many(jobs)

    batches = stack.calls.params("SendMessageBatch")
    assert [len(b["Entries"]) for b in batches] == [3, 1]
    assert batches[1]["Entries"][0]["Id"] == injected[0]


def test_a_sender_fault_fails_the_call_and_removes_only_the_refused_record(
    stack: Stack,
) -> None:
    refused = _fail_first_entry_once(stack, sender_fault=True)
    jobs = [request(example_tasks.generate_report, n, "2026-05") for n in range(1, 3)]

    with pytest.raises(EnqueueError, match=r"SQS refused 1 message.*InvalidMessageContents"):
        stack.producer.enqueue_many(jobs)

    created = [p["Item"]["pk"]["S"] for p in stack.calls.params("PutItem")]
    deleted = [p["Key"]["pk"]["S"] for p in stack.calls.params("DeleteItem")]
    assert len(created) == 2 and deleted == [created[int(refused[0])]]
    with pytest.raises(JobNotFound):
        stack.store.get(deleted[0].removeprefix("job#"))
    # The other one was sent: its record stays, and it runs.
    [sent] = set(created) - set(deleted)
    stack.drain(stack.worker(registry))
    assert stack.store.get(sent.removeprefix("job#")).status is JobStatus.SUCCEEDED


def test_the_same_idempotency_key_gives_the_same_job_sent_again_only_while_it_waits(
    stack: Stack,
) -> None:
    job = JobRequest(
        example_tasks.generate_report,
        example_tasks.generate_report.bind(1, "2026-01"),
        idempotency_key="order-77",
    )

    first = stack.producer.enqueue(job)
    second = stack.producer.enqueue(job)

    assert first.job_id == second.job_id == job_id_for_key("generate_report", "order-77")
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.status is JobStatus.QUEUED
    # Still queued: the first send may have been lost, so it goes again.
    assert stack.calls.count("SendMessage") == 2
    stack.drain(stack.worker(registry))
    assert stack.store.get(first.job_id).attempts == 1, "the copy ran nothing"
    third = stack.producer.enqueue(job)
    assert (third.duplicate, third.status) == (True, JobStatus.SUCCEEDED)
    assert stack.calls.count("SendMessage") == 2


def test_a_reused_key_with_other_arguments_is_a_conflict(stack: Stack) -> None:
    def job(month: str) -> JobRequest:
        args = example_tasks.generate_report.bind(1, month)
        return JobRequest(example_tasks.generate_report, args, idempotency_key="k")

    stack.producer.enqueue(job("2026-01"))
    with pytest.raises(IdempotencyConflict, match="other arguments"):
        stack.producer.enqueue(job("2026-02"))
    assert stack.calls.count("SendMessage") == 1


def test_a_caller_supplied_job_id_is_kept(stack: Stack) -> None:
    args = example_tasks.generate_report.bind(1, "2026-01")
    handle = stack.producer.enqueue(
        JobRequest(example_tasks.generate_report, args, job_id="report-1-2026-01")
    )
    assert handle.job_id == "report-1-2026-01"
    assert stack.store.get("report-1-2026-01").task == "generate_report"


def test_a_delay_uses_delay_seconds(stack: Stack) -> None:
    args = example_tasks.generate_report.bind(1, "2026-01")
    stack.producer.enqueue(JobRequest(example_tasks.generate_report, args, delay_s=120))

    assert stack.calls.params("SendMessage")[0]["DelaySeconds"] == 120
    assert stack.depth(stack.queue_url) == {"visible": 0, "in_flight": 0, "delayed": 1}
    stack.clock.advance(121)
    assert stack.depth(stack.queue_url)["visible"] == 1


@pytest.mark.parametrize("delay_s", [-1, MAX_SCHEDULE_S + 1])
def test_delays_out_of_range_are_refused(delay_s: int) -> None:
    with pytest.raises(ValueError, match="delay_s"):
        JobRequest(example_tasks.always_fail, {}, delay_s=delay_s)


def test_a_long_delay_without_a_scheduler_is_a_configuration_error(stack: Stack) -> None:
    args = example_tasks.generate_report.bind(1, "2026-01")
    # A stack without a Scheduler role: the producer is built without a scheduler.
    producer = Producer(stack.clients.sqs, stack.queue_url, stack.store)
    with pytest.raises(ConfigurationError, match="EventBridge Scheduler"):
        producer.enqueue(JobRequest(example_tasks.generate_report, args, delay_s=901))
    assert stack.calls.calls == []


def test_idempotency_keys_need_a_durable_task() -> None:
    with pytest.raises(ValueError, match="fire-and-forget"):
        JobRequest(example_tasks.send_welcome_email, {"email": "a@b.co"}, idempotency_key="x")


def test_an_oversized_job_is_refused_before_anything_is_queued(stack: Stack) -> None:
    tasks = TaskRegistry()

    @tasks.task
    def store_blob(blob: str) -> None: ...

    jobs = [request(store_blob, "small"), request(store_blob, "x" * SQS_MAX_MESSAGE_BYTES)]
    with pytest.raises(PayloadTooLarge):
        stack.producer.enqueue_many(jobs)
    assert stack.calls.calls == []


def test_batches_also_respect_the_total_size_limit(stack: Stack) -> None:
    tasks = TaskRegistry()

    @tasks.task(durable=False)
    def store_blob(blob: str) -> None: ...

    blob = "x" * (SQS_MAX_MESSAGE_BYTES // 3)
    stack.producer.enqueue_many([request(store_blob, blob) for _ in range(4)])

    sizes = [
        sum(len(e["MessageBody"]) for e in p["Entries"])
        for p in stack.calls.params("SendMessageBatch")
    ]
    sizes += [len(p["MessageBody"]) for p in stack.calls.params("SendMessage")]
    assert len(sizes) == 2 and all(s <= SQS_MAX_MESSAGE_BYTES for s in sizes)


def test_messages_are_versioned_json_envelopes(stack: Stack) -> None:
    stack.producer.enqueue(request(example_tasks.generate_report, 1, "2026-01"))
    [message] = stack.receive_all(stack.queue_url)
    envelope = Envelope.from_body(message["Body"])
    assert (envelope.v, envelope.task, envelope.args) == (
        1,
        "generate_report",
        {"user_id": 1, "month": "2026-01"},
    )


def test_new_jobs_are_counted_in_emf_under_their_task(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    from offpath.metrics import TaskMetrics

    stack.producer.metrics = TaskMetrics(namespace="offpath", service="test")
    job = JobRequest(
        example_tasks.generate_report,
        example_tasks.generate_report.bind(1, "2026-01"),
        idempotency_key="k1",
    )
    stack.producer.enqueue_many([job, request(example_tasks.always_fail)])
    stack.producer.enqueue(job)  # a repeat of the key: not a new job

    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    counts = {d["task"]: d["JobsEnqueued"] for d in documents if "JobsEnqueued" in d}
    assert counts == {"generate_report": [1.0], "always_fail": [1.0]}
    [directive] = documents[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "offpath"
    assert sorted(directive["Dimensions"][0]) == ["service", "task"]
