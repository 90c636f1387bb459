"""Regression tests: faults at one AWS call (injected at botocore's hooks, on moto).

Each test names the finding it keeps fixed. Every AWS call can fail before or after
it took effect; a repeat of the call (a client's retry with its key, Lambda's async
retry, SQS's second delivery) must finish the work, never double or lose it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import functions.shared.tasks as example_tasks
import pytest

from offpath.deadletters import DeadReason
from offpath.errors import EnqueueError, JobNotFound, PermanentError
from offpath.oneoff import ScheduleError
from offpath.producer import IdempotencyConflict, JobRequest, request
from offpath.retry import Backoff
from offpath.store import JobStatus
from offpath.tasks import TaskRegistry, registry
from tests.faults import Faults, connection_error, internal_error, read_timeout
from tests.support import Stack


def keyed(key: str, month: str = "2026-01", delay_s: int = 0) -> JobRequest:
    task = example_tasks.generate_report
    return JobRequest(task, task.bind(1, month), idempotency_key=key, delay_s=delay_s)


# ------------------------------------------------------------ 1: sends that may be lost


def test_a_send_that_never_left_is_sent_by_the_callers_retry_with_its_key(stack: Stack) -> None:
    faults = Faults().attach(stack.clients.sqs).add("SendMessage", "before", connection_error)

    with pytest.raises(EnqueueError, match="SendMessage failed"):
        stack.producer.enqueue(keyed("order-1"))
    retry = stack.producer.enqueue(keyed("order-1"))

    assert faults.raised == [("SendMessage", "before")]
    assert (retry.duplicate, retry.status) == (True, JobStatus.QUEUED)
    stack.drain(stack.worker(registry))
    assert stack.store.get(retry.job_id).status is JobStatus.SUCCEEDED


@pytest.mark.parametrize("fault", [read_timeout, internal_error], ids=["timeout", "500"])
def test_a_send_whose_answer_was_lost_keeps_its_record_and_runs_once(
    stack: Stack, fault: Any
) -> None:
    Faults().attach(stack.clients.sqs).add("SendMessage", "after", fault)

    with pytest.raises(EnqueueError):
        stack.producer.enqueue(keyed("order-2"))

    job_id = stack.calls.params("PutItem")[0]["Item"]["job_id"]["S"]
    assert stack.store.get(job_id).status is JobStatus.QUEUED, "the record outlives the error"
    assert stack.calls.count("DeleteItem") == 0
    stack.drain(stack.worker(registry))
    record = stack.store.get(job_id)
    assert (record.status, record.attempts) == (JobStatus.SUCCEEDED, 1)


def test_a_schedule_that_was_never_made_is_made_by_the_retry(stack: Stack) -> None:
    faults = Faults().attach(stack.clients.scheduler)
    faults.add("CreateSchedule", "before", connection_error)

    with pytest.raises(ScheduleError):
        stack.producer.enqueue(keyed("later-1", delay_s=3600))
    retry = stack.producer.enqueue(keyed("later-1", delay_s=3600))

    assert (retry.duplicate, retry.status) == (True, JobStatus.SCHEDULED)
    stack.advance(3601)
    stack.drain(stack.worker(registry))
    assert stack.store.get(retry.job_id).status is JobStatus.SUCCEEDED


def test_a_retry_leaves_an_existing_schedule_alone(stack: Stack) -> None:
    first = stack.producer.enqueue(keyed("later-2", delay_s=3600))
    retry = stack.producer.enqueue(keyed("later-2", delay_s=3600))

    assert retry.job_id == first.job_id and retry.duplicate
    assert stack.calls.count("CreateSchedule") == 2  # the second found it there
    fired = [name for name, _ in stack.advance(3601) if name.startswith("job-")]
    assert len(fired) == 1
    stack.drain(stack.worker(registry))
    record = stack.store.get(first.job_id)
    assert (record.status, record.attempts) == (JobStatus.SUCCEEDED, 1)


def test_a_scheduler_tick_whose_send_failed_is_sent_by_lambdas_async_retry(
    stack: Stack,
) -> None:
    from tests.faults import on_every_session

    event = {
        "task": "sync_exchange_rates",
        "args": {},
        "schedule": "ExchangeRates",
        "scheduled_time": "2026-06-01T06:00:00Z",
    }
    faults = Faults().add("SendMessage", "before", connection_error)
    with on_every_session(faults):
        with pytest.raises(Exception, match="SendMessage failed"):
            stack.invoke("SchedulerFunction", event)
        retried = stack.invoke("SchedulerFunction", event)  # Lambda's retry, same event

    assert faults.raised == [("SendMessage", "before")]
    assert retried["duplicate"] is True
    stack.drain()
    assert stack.job(retried["job_id"]).status is JobStatus.SUCCEEDED


# ------------------------------------------------------------ 4: enqueue_many atomicity


def test_a_conflict_in_a_bulk_enqueue_leaves_no_record_of_the_jobs_before_it(
    stack: Stack,
) -> None:
    stack.producer.enqueue(keyed("taken", month="2026-01"))
    stack.calls.clear()
    fresh = [request(example_tasks.generate_report, n, "2026-05") for n in (2, 3)]

    with pytest.raises(IdempotencyConflict):
        stack.producer.enqueue_many([*fresh, keyed("taken", month="2026-02")])

    created = [p["Item"]["job_id"]["S"] for p in stack.calls.params("PutItem")][:2]
    for job_id in created:
        with pytest.raises(JobNotFound):
            stack.store.get(job_id)
    assert stack.calls.count("SendMessage") + stack.calls.count("SendMessageBatch") == 0


# ------------------------------------------------------------ 5: backoff kept on duplicates


def test_a_second_copy_of_a_failed_jobs_message_waits_for_the_backoff(stack: Stack) -> None:
    tasks = TaskRegistry()
    runs: list[float] = []

    @tasks.task(max_attempts=5, backoff=Backoff(base_s=60, cap_s=60, jitter="none"))
    def flaky() -> None:
        runs.append(stack.clock.now().timestamp())
        raise ConnectionError("503")

    worker = stack.worker(tasks)
    job = stack.producer.enqueue(request(flaky))
    [message] = stack.receive_all(stack.queue_url)
    stack.clock.advance(361)  # visible again: run attempt 1
    stack.drain(worker)
    stack.send_raw(message["Body"])  # SQS delivers a second copy at once

    stack.drain(worker)

    assert len(runs) == 1, "the copy must not start attempt 2 inside the backoff"
    record = stack.store.get(job.job_id)
    assert (record.status, record.attempts) == (JobStatus.FAILED, 1)
    stack.clock.advance(61)
    stack.drain(worker)
    assert len(runs) == 2 and runs[1] - runs[0] >= 60


# ------------------------------------------------------------ 6: dead letters, then records


def test_a_lost_record_write_after_the_dead_letter_neither_reruns_nor_doubles(
    stack: Stack,
) -> None:
    tasks, runs = _doomed()
    job = stack.producer.enqueue(request(tasks.get("doomed")))
    faults = Faults().attach(stack.clients.dynamodb)
    # The claim's UpdateItem passes; the one that marks the job dead is lost once.
    stack.clients.dynamodb.meta.events.register(
        "after-call.dynamodb.UpdateItem", _arm_after_first(faults, "UpdateItem")
    )

    stack.drain(stack.worker(tasks))
    stack.clock.advance(361)  # past any visibility: a message left would be back
    stack.drain(stack.worker(tasks))

    assert runs == [1]
    assert len(stack.dead_letters()) == 1
    assert stack.store.get(job.job_id).status is JobStatus.DEAD
    assert ("UpdateItem", "before") in faults.raised


def _doomed(*, max_attempts: int = 1, permanent: bool = False) -> tuple[TaskRegistry, list[int]]:
    """A registry whose task ``doomed`` always fails (for good, if ``permanent``); its runs."""
    tasks = TaskRegistry()
    runs: list[int] = []

    @tasks.task(max_attempts=max_attempts)
    def doomed() -> None:
        runs.append(1)
        raise PermanentError("bad") if permanent else ConnectionError("503")

    return tasks, runs


def _arm_after_first(faults: Faults, operation: str, times: int = 1) -> Any:
    calls = []

    def arm(**_: Any) -> None:
        calls.append(1)
        if len(calls) == 1:  # once the first call (the claim) passed, the next ones fail
            faults.add(operation, "before", read_timeout, times)

    return arm


# A permanent error's attempt whose end was never written is one that died: with
# attempts left, the message's next copy runs it again, as after a crash there.
@pytest.mark.parametrize(("reason", "runs_expected"), [("max_attempts", 1), ("permanent_error", 2)])
def test_a_dead_job_whose_record_writes_all_fail_ends_dead_once_not_running(
    stack: Stack, reason: str, runs_expected: int
) -> None:
    permanent = reason == "permanent_error"
    tasks, runs = _doomed(max_attempts=3 if permanent else 1, permanent=permanent)
    job = stack.producer.enqueue(request(tasks.get("doomed")))
    faults = Faults().attach(stack.clients.dynamodb)
    # The claim passes; every write that would mark the job dead fails, this invocation.
    stack.clients.dynamodb.meta.events.register(
        "after-call.dynamodb.UpdateItem", _arm_after_first(faults, "UpdateItem", times=2)
    )

    stack.drain(stack.worker(tasks))
    faults.clear()
    stack.clock.advance(361)  # past any visibility: a message left would be back
    stack.drain(stack.worker(tasks))

    record = stack.store.get(job.job_id)
    assert (record.status, record.attempts, len(runs)) == (JobStatus.DEAD, *[runs_expected] * 2)
    [letter] = stack.dead_letters()
    assert letter.reason == reason
    assert faults.raised == [("UpdateItem", "before")] * 2


def test_a_dead_letter_that_never_left_is_sent_by_the_messages_next_copy(stack: Stack) -> None:
    tasks, runs = _doomed()
    job = stack.producer.enqueue(request(tasks.get("doomed")))
    faults = Faults().attach(stack.clients.sqs).add("SendMessage", "before", connection_error)

    stack.drain(stack.worker(tasks))
    assert (stack.dead_letters(), stack.store.get(job.job_id).dead_letter_pending) == ([], True)
    stack.clock.advance(361)
    stack.drain(stack.worker(tasks))

    record = stack.store.get(job.job_id)
    assert (record.status, record.dead_letter_pending, runs) == (JobStatus.DEAD, False, [1])
    [letter] = stack.dead_letters()
    assert (letter.reason, letter.attempts) == (DeadReason.MAX_ATTEMPTS, 1)
    assert faults.raised == [("SendMessage", "before")]


def test_a_last_attempt_that_died_unfinished_is_dead_lettered_not_run_again(
    stack: Stack,
) -> None:
    tasks = TaskRegistry()
    runs: list[int] = []

    @tasks.task(max_attempts=1, timeout_s=5)
    def once() -> None:
        runs.append(1)

    job = stack.producer.enqueue(request(once))
    # GIVEN its only attempt was claimed and the function died (a Lambda timeout)
    stack.store.claim(job.job_id, "once", lease_s=10)
    stack.clock.advance(361)

    stack.drain(stack.worker(tasks))

    assert runs == []
    record = stack.store.get(job.job_id)
    assert (record.status, record.attempts) == (JobStatus.DEAD, 1)
    [letter] = stack.dead_letters()
    assert letter.reason == DeadReason.MAX_ATTEMPTS


# ------------------------------------------------------------ 7: records outlive schedules


def test_a_job_scheduled_beyond_the_record_ttl_keeps_its_record_until_due(
    stack: Stack,
) -> None:
    delay = timedelta(days=30)
    # Read before the enqueue: the producer's own "now" is no earlier, however slow it is.
    due = (stack.clock.now() + delay).timestamp()
    job = stack.producer.enqueue(keyed("far", delay_s=int(delay.total_seconds())))

    item = stack.clients.dynamodb.get_item(
        TableName=stack.table_name, Key={"pk": {"S": f"job#{job.job_id}"}}
    )["Item"]
    expires_at = int(item["expires_at"]["N"])
    assert expires_at >= due + stack.store.ttl_s - 1


# ------------------------------------------------------------ 2: one job per tick


@pytest.mark.parametrize("schedule", ["DailyDigest", "ExchangeRates"])
def test_every_retry_of_a_tick_makes_the_same_one_job(stack: Stack, schedule: str) -> None:
    local = stack.schedules[schedule]
    tick = stack.clock.now().replace(microsecond=0)
    event = local.event(tick, "us-east-1", "123456789012")

    first = stack.invoke("SchedulerFunction", event)
    stack.clock.advance(60)  # Lambda's first async retry comes a minute later
    second = stack.invoke("SchedulerFunction", event)
    stack.clock.advance(120)
    third = stack.invoke("SchedulerFunction", event)

    assert first["job_id"] == second["job_id"] == third["job_id"]
    assert (first["duplicate"], second["duplicate"], third["duplicate"]) == (False, True, True)


def test_a_tick_whose_send_was_refused_is_made_afresh_by_lambdas_retry(stack: Stack) -> None:
    from tests.faults import on_every_session, refused

    event = {
        "task": "sync_exchange_rates",
        "args": {},
        "schedule": "ExchangeRates",
        "scheduled_time": "2026-06-02T06:00:00Z",
    }
    faults = Faults().add("SendMessage", "before", refused)
    with on_every_session(faults), pytest.raises(Exception, match="SendMessage failed"):
        stack.invoke("SchedulerFunction", event)
    retried = stack.invoke("SchedulerFunction", event)

    # The refused send's record was removed (SchedulerFunction may DeleteItem), so
    # the retry is a new job, not a duplicate that sends nothing.
    assert retried["duplicate"] is False
    stack.drain()
    assert stack.job(retried["job_id"]).status is JobStatus.SUCCEEDED
