"""What a user does with offpath, end to end, on every target (tests/e2e/conftest.py).

Each check goes through the HTTP API and the AWS APIs only, as a user's client and
operator would, and removes what it made: the dead-letter messages of its jobs and
the records of jobs that finished (a cancelled job's record stays until its TTL, so
its message, when SQS delivers it, is still dropped without running). How to run it
after ``sam deploy``: docs/testing.md.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from offpath.cli import app
from offpath.local.emulator import Emulator
from offpath.ops.dlq import DeadLetters
from tests.e2e.target import Target

pytestmark = pytest.mark.e2e


@pytest.fixture
def finished(target: Target) -> Iterator[list[str]]:
    """Job ids whose records the test removes when it ends."""
    ids: list[str] = []
    yield ids
    for job_id in ids:
        target.forget_dead(job_id)
        target.store.delete(job_id)


def _token() -> str:
    return uuid.uuid4().hex[:12]


def test_a_job_enqueued_over_http_succeeds(target: Target, finished: list[str]) -> None:
    # The app's own route (public), which enqueues generate_report.
    status, accepted = target.request("POST", "/reports", {"user_id": 42, "month": "2026-06"})
    assert status == 202, accepted
    finished.append(accepted["job_id"])

    assert accepted["status"] == "queued"
    job = target.wait(accepted["job_id"])
    assert (job["status"], job["attempts"]) == ("succeeded", 1)
    assert job["result"] == {"url": "https://reports.example.com/42/2026-06.pdf"}


def test_a_failing_job_is_retried_then_succeeds(target: Target, finished: list[str]) -> None:
    # Its first attempt (well within 3 s, even on a loaded machine) fails; a retry
    # after the clock passes `until` does not.
    until = time.time() + 3.0
    accepted = target.enqueue("fail_until", {"until_epoch": until})
    finished.append(accepted["job_id"])

    job = target.wait(accepted["job_id"])

    assert job["status"] == "succeeded"
    assert job["attempts"] >= 2
    assert job["result"] == {"until_epoch": until}


def test_a_job_that_keeps_failing_is_dead_after_its_attempts_with_the_reason_in_the_dlq(
    target: Target, finished: list[str]
) -> None:
    accepted = target.enqueue("always_fail", {})  # 2 attempts, 1 s apart
    finished.append(accepted["job_id"])

    dead = target.wait(accepted["job_id"])

    assert (dead["status"], dead["attempts"]) == ("dead", 2)
    [message] = target.dead_messages(accepted["job_id"])
    assert message["MessageAttributes"]["offpath.reason"]["StringValue"] == "max_attempts"


def test_a_permanent_failure_is_dead_with_its_reason_in_the_dlq_and_redrive_reruns_it(
    target: Target, finished: list[str]
) -> None:
    reason = f"e2e {_token()}"
    accepted = target.enqueue("reject", {"reason": reason})
    job_id = accepted["job_id"]
    finished.append(job_id)

    dead = target.wait(job_id)
    assert (dead["status"], dead["last_error"]["message"]) == ("dead", reason)
    [message] = target.dead_messages(job_id)
    assert message["MessageAttributes"]["offpath.reason"]["StringValue"] == "permanent_error"

    # Redrive, as `offpath dlq redrive JOB_ID` does: the record is requeued, the
    # message goes back to the queue and the job runs again (and is dead again).
    letters = DeadLetters(target.sqs, target.dlq_url, target.store)
    result = letters.redrive([job_id], to_url=target.queue_url)
    assert result.moved == 1
    target.wait(
        job_id,
        until=lambda job: job["status"] == "dead" and job["started_at"] > dead["started_at"],
    )
    assert len(target.dead_messages(job_id)) == 1, "redriven once, dead-lettered once more"


def test_a_delayed_job_waits_its_delay_then_runs(target: Target, finished: list[str]) -> None:
    accepted = target.enqueue(
        "generate_report", {"user_id": 7, "month": "2026-07"}, delay_seconds=2
    )
    finished.append(accepted["job_id"])

    assert target.job(accepted["job_id"])["status"] == "queued"
    job = target.wait(accepted["job_id"])

    assert job["status"] == "succeeded"
    started = datetime.fromisoformat(job["started_at"])
    assert started - datetime.fromisoformat(job["created_at"]) >= timedelta(seconds=2)


def test_a_schedule_tick_becomes_one_job_however_often_it_is_delivered(
    target: Target, finished: list[str]
) -> None:
    # A tick of ExchangeRates long past (its record expires at once), unique to this run.
    tick = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=uuid.uuid4().int % 500_000)
    event = {
        "task": "sync_exchange_rates",
        "args": {},
        "schedule": "ExchangeRates",
        "scheduled_time": tick.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }

    first = target.invoke_scheduler(event)
    again = target.invoke_scheduler(event)  # Scheduler delivers at least once
    finished.append(first["job_id"])

    assert (again["job_id"], first["duplicate"], again["duplicate"]) == (
        first["job_id"],
        False,
        True,
    )
    job = target.wait(first["job_id"])
    assert (job["status"], job["result"], job["attempts"]) == ("succeeded", {"rates": 1}, 1)


def test_a_job_cancelled_before_it_starts_never_runs(target: Target) -> None:
    accepted = target.enqueue(
        "generate_report", {"user_id": 9, "month": "2026-09"}, delay_seconds=2
    )

    status, cancelled = target.request("DELETE", f"/jobs/{accepted['job_id']}")

    assert (status, cancelled["status"]) == (200, "cancelled")
    time.sleep(3)  # its message is delivered now, and dropped
    job = target.job(accepted["job_id"])
    assert (job["status"], job["attempts"], job["started_at"]) == ("cancelled", 0, None)


def test_an_idempotency_key_names_one_job(target: Target, finished: list[str]) -> None:
    key = f"e2e-{_token()}"
    args = {"user_id": 11, "month": "2026-11"}

    first = target.enqueue("generate_report", args, idempotency_key=key)
    again = target.enqueue("generate_report", args, idempotency_key=key)
    finished.append(first["job_id"])

    assert again["job_id"] == first["job_id"]
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    job = target.wait(first["job_id"])
    assert (job["status"], job["attempts"]) == ("succeeded", 1)
    status, conflict = target.request(
        "POST",
        "/jobs",
        {"task": "generate_report", "args": {"user_id": 12, "month": "2026-11"}},
        {"Idempotency-Key": key},
    )
    assert status == 409, conflict


def test_offpath_load_at_a_tiny_rate_sees_every_job_finish_on_offpath_dev(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The load generator against offpath dev (no flag needed: an emulator is not billed)."""
    if request.config.getoption("--stack-name"):
        pytest.skip("pointed at a deployed stack: offpath load is not run there by the suite")
    emulator: Emulator = request.getfixturevalue("local_emulator")
    assert emulator.provisioned is not None
    monkeypatch.setenv("OFFPATH_QUEUE_URL", emulator.provisioned.queue_url("JobsQueue"))
    monkeypatch.setenv("OFFPATH_TABLE_NAME", emulator.provisioned.table_name())
    monkeypatch.setenv("OFFPATH_TASK_MODULES", "functions.shared.tasks")
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint)
    args = '{"user_id": 5, "month": "2026-05"}'

    command = ["load", "--task", "generate_report", "--args", args, "--rate", "10"]

    result = CliRunner().invoke(app, [*command, "--duration", "1", "--wait", "30", "--json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["sent"], summary["finished"], summary["statuses"]) == (
        10,
        10,
        {"succeeded": 10},
    )
    assert summary["queue_age_s"]["max"] >= summary["queue_age_s"]["p50"] >= 0
