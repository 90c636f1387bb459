"""Completion webhooks on the template's queue, table and secret (in-process moto).

A real HTTP receiver on loopback (allowed locally, as under ``offpath dev``) records
each call and whether the job's record was already final when it arrived.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from functions.shared import services
from functions.shared.tasks import build_report_archive
from standardwebhooks.webhooks import Webhook

from offpath.context import JobContext
from offpath.errors import JobNotFound, PermanentError
from offpath.producer import JobRequest
from offpath.store import FINAL_STATUSES, JobStatus
from offpath.tasks import TaskRegistry
from offpath.webhooks import DELIVERY_OPTIONS, delivery_job_id
from tests.faults import Faults, on_every_session, refused
from tests.support import Stack


@dataclass
class Receiver:
    url: str
    stack: Stack
    answers: list[int] = field(default_factory=list)  # status codes to give, in turn
    calls: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver(stack: Stack) -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got = box[0]
            body = self.rfile.read(int(self.headers["content-length"])).decode()
            job_id = json.loads(body)["data"]["job_id"]
            got.calls.append(
                {
                    "body": body,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "status_then": got.stack.store.get(job_id).status,
                }
            )
            code = got.answers.pop(0) if got.answers else 204
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(f"http://127.0.0.1:{server.server_port}/hooks/jobs", stack))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box[0]
    server.shutdown()
    server.server_close()


def _tasks() -> tuple[TaskRegistry, list[str]]:
    tasks = TaskRegistry()
    runs: list[str] = []

    @tasks.task
    def works(n: int) -> dict[str, int]:
        runs.append("works")
        return {"n": n}

    @tasks.task
    def breaks() -> None:
        runs.append("breaks")
        raise PermanentError("bad input")

    return tasks, runs


def _enqueue(stack: Stack, tasks: TaskRegistry, name: str, args: dict[str, Any], url: str) -> str:
    task = tasks.get(name)
    return stack.producer.enqueue(JobRequest(task=task, args=args, callback_url=url)).job_id


def _verified(stack: Stack, call: dict[str, Any]) -> Any:
    return Webhook(stack.webhook_secret()).verify(call["body"], call["headers"])


@pytest.mark.parametrize(
    ("name", "args", "status"),
    [
        ("works", {"n": 7}, JobStatus.SUCCEEDED),
        ("breaks", {}, JobStatus.DEAD),
    ],
)
def test_a_webhook_arrives_after_the_record_is_final_and_verifies(
    stack: Stack, receiver: Receiver, name: str, args: dict[str, Any], status: JobStatus
) -> None:
    tasks, runs = _tasks()
    job_id = _enqueue(stack, tasks, name, args, receiver.url)

    stack.drain(stack.worker(tasks))

    (call,) = receiver.calls
    assert call["status_then"] is status
    event = _verified(stack, call)
    assert event["type"] == f"offpath.job.{status}"
    assert event["data"]["job_id"] == job_id and event["data"]["status"] == status
    if status is JobStatus.SUCCEEDED:
        assert event["data"]["result"] == {"n": 7}
    else:
        assert event["data"]["error"] == {"type": "PermanentError", "message": "bad input"}
    assert call["headers"]["webhook-id"] == delivery_job_id(job_id, status)
    assert runs == [name]


def test_a_running_job_cancelled_gets_its_webhook_after_it_stops(
    stack: Stack, receiver: Receiver
) -> None:
    tasks = TaskRegistry()

    @tasks.task
    def stops(ctx: JobContext) -> None:
        stack.request("DELETE", f"/jobs/{ctx.job_id}")
        ctx.raise_if_cancelled()

    job_id = _enqueue(stack, tasks, "stops", {}, receiver.url)
    stack.drain(stack.worker(tasks))

    (call,) = receiver.calls
    assert call["status_then"] is JobStatus.CANCELLED
    assert _verified(stack, call)["data"]["job_id"] == job_id


def test_a_waiting_job_cancelled_through_the_api_gets_its_webhook(
    stack: Stack, receiver: Receiver
) -> None:
    tasks, runs = _tasks()
    request = JobRequest(task=tasks.get("works"), args={"n": 1}, callback_url=receiver.url)
    request = JobRequest(**{**request.__dict__, "delay_s": 600})
    job_id = stack.producer.enqueue(request).job_id

    assert stack.producer.cancel(job_id).status is JobStatus.CANCELLED
    stack.drain(stack.worker(tasks))

    (call,) = receiver.calls
    assert call["status_then"] is JobStatus.CANCELLED
    assert _verified(stack, call)["type"] == "offpath.job.cancelled"
    assert runs == []


def test_a_receiver_that_fails_three_times_is_retried_with_backoff_never_rerunning_the_job(
    stack: Stack, receiver: Receiver
) -> None:
    tasks, runs = _tasks()
    receiver.answers = [503, 500, 503]
    job_id = _enqueue(stack, tasks, "works", {"n": 2}, receiver.url)
    worker = stack.worker(tasks)

    base = DELIVERY_OPTIONS.backoff.base_s
    stack.drain(worker)
    for retry in range(3):
        stack.advance(base * 2**retry + 1)  # the longest this retry's backoff can be
        stack.drain(worker)

    assert runs == ["works"]
    assert len(receiver.calls) == 4
    assert len({c["headers"]["webhook-id"] for c in receiver.calls}) == 1
    delays = [p["VisibilityTimeout"] for p in stack.calls.params("ChangeMessageVisibility")]
    assert len(delays) == 3
    assert all(base * 2**i / 2 <= d <= base * 2**i for i, d in enumerate(delays))
    _verified(stack, receiver.calls[-1])
    delivery = stack.job(delivery_job_id(job_id, JobStatus.SUCCEEDED))
    assert (delivery.status, delivery.attempts, delivery.result) == (
        JobStatus.SUCCEEDED,
        4,
        {"status_code": 204},
    )
    assert delivery.last_error is not None and "HTTP 503" in delivery.last_error.message
    assert stack.job(job_id).status is JobStatus.SUCCEEDED


def test_a_job_finished_twice_sends_one_webhook(stack: Stack, receiver: Receiver) -> None:
    tasks, runs = _tasks()
    job_id = _enqueue(stack, tasks, "works", {"n": 3}, receiver.url)
    body = stack.calls.params("SendMessage")[-1]["MessageBody"]
    worker = stack.worker(tasks)
    stack.drain(worker)

    stack.send_raw(body)  # delivered again after it finished
    stack.drain(worker)

    assert len(receiver.calls) == 1
    assert runs == ["works"]
    assert {stack.job(job_id).status} <= FINAL_STATUSES


def test_a_job_without_a_callback_sends_the_same_message_as_before(stack: Stack) -> None:
    tasks, _ = _tasks()
    stack.producer.enqueue(JobRequest(task=tasks.get("works"), args={"n": 1}))
    (sent,) = stack.calls.params("SendMessage")
    assert "callback_url" not in json.loads(sent["MessageBody"])
    assert "callback_url" not in stack.calls.params("PutItem")[-1]["Item"]


def test_a_webhook_sent_after_the_platform_clock_moved_ahead_verifies_on_the_receivers_clock(
    stack: Stack, receiver: Receiver
) -> None:
    """offpath dev and the harness move the platform clock; receivers keep their own.

    Standard Webhooks receivers refuse a timestamp five minutes off their clock, so the
    signature's timestamp is the wall clock's, as SigV4's is.
    """
    tasks, _ = _tasks()
    _enqueue(stack, tasks, "works", {"n": 1}, receiver.url)
    stack.clock.advance(86_400)

    stack.drain(stack.worker(tasks))

    (call,) = receiver.calls
    assert _verified(stack, call)["type"] == "offpath.job.succeeded"


# ---------------------------------------------------------------- through the functions

ARCHIVE = {"user_id": 7, "months": 1, "rows_per_month": 100}


def _archive_with_callback(stack: Stack, url: str) -> str:
    request = JobRequest(
        build_report_archive, build_report_archive.validate(ARCHIVE), callback_url=url
    )
    return stack.producer.enqueue(request).job_id


def test_a_heavy_jobs_webhook_is_enqueued_by_its_pool_and_sent_by_the_default_one(
    stack: Stack, receiver: Receiver
) -> None:
    """The template's functions, as deployed: HeavyWorkerFunction runs the job and
    enqueues its delivery on JobsQueue; WorkerFunction signs and sends it."""
    job_id = _archive_with_callback(stack, receiver.url)

    stack.drain()

    (call,) = receiver.calls
    assert call["status_then"] is JobStatus.SUCCEEDED
    assert _verified(stack, call)["data"]["job_id"] == job_id
    assert [i.error for i in stack.functions["HeavyWorkerFunction"].invocations] == [None]
    (delivery,) = stack.functions["WorkerFunction"].invocations
    assert delivery.error is None


def test_a_webhook_whose_enqueue_was_refused_is_enqueued_when_the_jobs_message_returns(
    stack: Stack, receiver: Receiver
) -> None:
    """SQS refuses the delivery's message on the first try (surely not sent): its record
    is removed, and the finished job's message fails, to come back and enqueue it again."""
    job_id = _archive_with_callback(stack, receiver.url)
    delivery_id = delivery_job_id(job_id, JobStatus.SUCCEEDED)
    faults = Faults().add("SendMessage", "before", refused)

    with on_every_session(faults):
        stack.drain()

    assert faults.raised == [("SendMessage", "before")]
    assert stack.job(job_id).status is JobStatus.SUCCEEDED
    assert receiver.calls == []
    with pytest.raises(JobNotFound):
        stack.job(delivery_id)

    heavy_queue = stack.location.pools["heavy"].queue_url
    visibility = stack.clients.sqs.get_queue_attributes(
        QueueUrl=heavy_queue, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]["VisibilityTimeout"]
    stack.advance(int(visibility))
    stack.drain()

    (call,) = receiver.calls
    assert _verified(stack, call)["data"]["job_id"] == job_id
    assert stack.job(delivery_id).status is JobStatus.SUCCEEDED
    assert len(services.read("archive")) == 1, "the job itself ran once"
