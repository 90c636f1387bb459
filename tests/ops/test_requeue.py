"""DynamoDBJobStore.requeue: only dead or failed jobs wait again (in-process moto)."""

from __future__ import annotations

import pytest

from offpath.store import ClaimKind, JobError, JobStatus, NewJob
from tests.support import Stack

ERROR = JobError("RuntimeError", "boom")


def _job(stack: Stack, job_id: str, status: JobStatus) -> None:
    """A record in ``status``, reached through the store's own transitions."""
    store = stack.store
    store.create(NewJob(job_id=job_id, task="t", correlation_id="c", args_sha256="-"))
    if status is JobStatus.QUEUED:
        return
    if status is JobStatus.CANCELLED:
        store.cancel(job_id)
        return
    claim = store.claim(job_id, "t", lease_s=60)
    assert claim.kind is ClaimKind.CLAIMED
    if status is JobStatus.SUCCEEDED:
        assert store.succeed(job_id, claim.attempts, "ok")
    elif status is JobStatus.FAILED:
        assert store.fail(job_id, claim.attempts, ERROR, retry_in_s=10)
    elif status is JobStatus.DEAD:
        assert store.bury(job_id, ERROR, claim.attempts)


@pytest.mark.parametrize("status", [JobStatus.DEAD, JobStatus.FAILED])
def test_a_dead_or_failed_job_waits_again_with_its_whole_retry_budget(
    stack: Stack, status: JobStatus
) -> None:
    _job(stack, "j1", status)

    assert stack.store.requeue("j1") is True

    job = stack.store.get("j1")
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)
    assert job.finished_at is None and job.lease_until is None
    assert job.last_error == ERROR, "the last error stays as history"
    item = stack.clients.dynamodb.get_item(
        TableName=stack.settings.table_name, Key={"pk": {"S": "job#j1"}}
    )["Item"]
    assert item["redrives"] == {"N": "1"}
    assert stack.store.claim("j1", "t", lease_s=60).attempts == 1


@pytest.mark.parametrize(
    "status",
    [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.CANCELLED],
)
def test_a_job_in_any_other_state_is_left_alone(stack: Stack, status: JobStatus) -> None:
    _job(stack, "j1", status)
    before = stack.store.get("j1")

    assert stack.store.requeue("j1") is False

    assert stack.store.get("j1") == before


def test_a_missing_record_is_not_invented(stack: Stack) -> None:
    assert stack.store.requeue("never-was") is False
    assert "Item" not in stack.clients.dynamodb.get_item(
        TableName=stack.settings.table_name, Key={"pk": {"S": "job#never-was"}}
    )


def test_redriving_twice_counts_both(stack: Stack) -> None:
    _job(stack, "j1", JobStatus.DEAD)
    assert stack.store.requeue("j1")
    claim = stack.store.claim("j1", "t", lease_s=60)
    assert stack.store.bury("j1", ERROR, claim.attempts)

    assert stack.store.requeue("j1")

    item = stack.clients.dynamodb.get_item(
        TableName=stack.settings.table_name, Key={"pk": {"S": "job#j1"}}
    )["Item"]
    assert item["redrives"] == {"N": "2"}
