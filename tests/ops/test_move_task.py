"""A whole-queue redrive uses StartMessageMoveTask where SQS has it (in-process moto).

moto has no message move tasks, so :class:`MoveTasksLikeAws` adds the two calls
around moto's client, as AWS documents them: the task moves every message of the
source, and ListMessageMoveTasks lists the most recent task first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

from offpath.ops.dlq import DeadLetters
from offpath.ops.errors import QueueError
from offpath.ops.messages import RedriveMethod
from offpath.producer import request
from offpath.store import JobStatus
from offpath.tasks import TaskRegistry
from tests.support import Stack

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class MoveTasksLikeAws:
    def __init__(self, sqs: SQSClient, on_start: Callable[[], None] = lambda: None) -> None:
        self._sqs = sqs
        self.on_start = on_start
        self.tasks: list[dict[str, Any]] = []
        self.finish_as = "COMPLETED"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def list_message_move_tasks(self, *, SourceArn: str, MaxResults: int = 10) -> dict[str, Any]:
        return {"Results": self.tasks[::-1][:MaxResults]}

    def start_message_move_task(self, *, SourceArn: str, DestinationArn: str) -> dict[str, Any]:
        self.on_start()
        source, destination = self._url(SourceArn), self._url(DestinationArn)
        moved = 0
        while got := self._sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in got:
                self._sqs.send_message(QueueUrl=destination, MessageBody=message["Body"])
                self._sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
        handle = f"task-{len(self.tasks) + 1}"
        self.tasks.append(
            {
                "TaskHandle": handle,
                "Status": self.finish_as,
                "SourceArn": SourceArn,
                "DestinationArn": DestinationArn,
                "ApproximateNumberOfMessagesMoved": moved,
                "ApproximateNumberOfMessagesToMove": moved,
            }
        )
        return {"TaskHandle": handle}

    def _url(self, arn: str) -> str:
        return self._sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]


def _dead_jobs(stack: Stack, count: int) -> list[str]:
    tasks = TaskRegistry()

    @tasks.task(max_attempts=1)
    def broken(n: int) -> None:
        raise RuntimeError("broken")

    jobs = stack.producer.enqueue_many([request(broken, n) for n in range(count)])
    stack.drain(stack.worker(tasks))
    assert {stack.store.get(j.job_id).status for j in jobs} == {JobStatus.DEAD}
    return [j.job_id for j in jobs]


def _letters(stack: Stack, sqs: Any, sleeps: list[float] | None = None) -> DeadLetters:
    return DeadLetters(
        cast("SQSClient", sqs),
        stack.dlq_url,
        stack.store,
        sleep=(sleeps if sleeps is not None else []).append,
        wait_time_s=0,
    )


def test_a_whole_queue_redrive_resets_the_records_then_starts_a_move_task(stack: Stack) -> None:
    job_ids = _dead_jobs(stack, 3)
    seen_at_start: list[JobStatus] = []
    sqs = MoveTasksLikeAws(
        stack.clients.sqs,
        on_start=lambda: seen_at_start.extend(stack.store.get(j).status for j in job_ids),
    )
    sleeps: list[float] = []
    ticks: list[tuple[int, int | None]] = []

    result = _letters(stack, sqs, sleeps).redrive(
        to_url=stack.queue_url, on_progress=lambda done, total: ticks.append((done, total))
    )

    assert seen_at_start == [JobStatus.QUEUED] * 3, "reset before any message moves"
    assert (result.method, result.task_handle, result.moved) == (
        RedriveMethod.MOVE_TASK,
        "task-1",
        3,
    )
    assert result.records == dict.fromkeys(job_ids, "requeued")
    assert result.moved_without_reset == 0
    assert ticks == [(3, 3)] and sleeps == [2.0]
    assert sqs.tasks[0]["DestinationArn"] == stack.queue_arn
    assert (stack.depth(stack.queue_url)["visible"], stack.depth(stack.dlq_url)["visible"]) == (
        3,
        0,
    )


def test_chosen_ids_never_use_a_move_task(stack: Stack) -> None:
    first, _ = _dead_jobs(stack, 2)
    sqs = MoveTasksLikeAws(stack.clients.sqs)

    result = _letters(stack, sqs).redrive([first], to_url=stack.queue_url)

    assert (result.method, result.moved, sqs.tasks) == (RedriveMethod.RECEIVE_SEND_DELETE, 1, [])


def test_a_running_move_task_is_not_started_twice(stack: Stack) -> None:
    [job_id] = _dead_jobs(stack, 1)
    sqs = MoveTasksLikeAws(stack.clients.sqs)
    sqs.tasks.append({"TaskHandle": "task-0", "Status": "RUNNING"})

    with pytest.raises(QueueError, match="already running"):
        _letters(stack, sqs).redrive(to_url=stack.queue_url)

    assert stack.store.get(job_id).status is JobStatus.DEAD
    assert stack.depth(stack.dlq_url)["visible"] == 1


def test_a_failed_move_task_is_an_error_that_says_how_far_it_got(stack: Stack) -> None:
    _dead_jobs(stack, 2)
    sqs = MoveTasksLikeAws(stack.clients.sqs)
    sqs.finish_as = "FAILED"

    with pytest.raises(QueueError, match="ended FAILED after moving 2"):
        _letters(stack, sqs).redrive(to_url=stack.queue_url)


def test_where_sqs_lacks_move_tasks_the_messages_move_here(stack: Stack) -> None:
    # In-process moto raises NotImplementedError (over HTTP it answers 500; see the
    # emulator tests): fall back to receive, send, delete.
    job_ids = _dead_jobs(stack, 2)

    result = _letters(stack, stack.clients.sqs).redrive(to_url=stack.queue_url)

    assert (result.method, result.moved) == (RedriveMethod.RECEIVE_SEND_DELETE, 2)
    assert result.records == dict.fromkeys(job_ids, "requeued")


def test_access_denied_is_an_error_not_a_reason_to_fall_back(stack: Stack) -> None:
    _dead_jobs(stack, 1)

    class Denied(MoveTasksLikeAws):
        def list_message_move_tasks(self, *, SourceArn: str, MaxResults: int = 10) -> Any:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListMessageMoveTasks"
            )

    with pytest.raises(QueueError, match="AccessDenied"):
        _letters(stack, Denied(stack.clients.sqs)).redrive(to_url=stack.queue_url)
    assert stack.depth(stack.dlq_url)["visible"] == 1
