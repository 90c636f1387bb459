"""Pools: every enqueuer sends a task to its own pool's queue, run by that pool's worker.

On the project's template (a default pool and a heavy one), in-process on moto.
"""

from __future__ import annotations

import json
from unittest.mock import ANY

import pytest
from functions.shared import services
from functions.shared.tasks import build_report_archive, generate_report
from typer.testing import CliRunner

from offpath.cli import app
from offpath.envelope import Envelope
from offpath.errors import ConfigurationError, JobNotFound
from offpath.producer import JobRequest
from offpath.store import JobStatus, NewJob
from offpath.tasks import TaskRegistry
from offpath.testing import OffpathStack

ARCHIVE = {"user_id": 7, "months": 2, "rows_per_month": 200}


def _depths(stack: OffpathStack) -> dict[str, int]:
    """Visible plus delayed messages per pool's queue."""
    return {
        name: sum(stack.depth(pool.queue_url).values())
        for name, pool in stack.location.pools.items()
    }


def test_a_heavy_task_from_the_api_the_cli_and_schedules_runs_in_the_heavy_worker(
    offpath_stack: OffpathStack,
) -> None:
    # One stack for the four enqueuers (each stack costs seconds to build).
    pools = offpath_stack.location.pools
    assert sorted(pools) == ["default", "heavy"]
    assert pools["heavy"].function == "HeavyWorkerFunction"

    # The API's generic route: no pool in the request, the task says where it runs.
    response = offpath_stack.request(
        "POST", "/jobs", json={"task": "build_report_archive", "args": ARCHIVE}
    )
    assert response.status_code == 202, response.text
    assert _depths(offpath_stack) == {"default": 0, "heavy": 1}

    # The CLI, in a shell with the functions' shared settings (the stack exported
    # them): no --pool either.
    result = CliRunner().invoke(
        app, ["enqueue", "build_report_archive", "--args", json.dumps(ARCHIVE), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert _depths(offpath_stack) == {"default": 0, "heavy": 2}

    # A schedule: what an EventBridge rule delivers to SchedulerFunction.
    event = {"task": "build_report_archive", "args": ARCHIVE, "schedule": "NightlyArchive"}
    fired = offpath_stack.invoke("SchedulerFunction", event)
    assert _depths(offpath_stack) == {"default": 0, "heavy": 3}

    # A one-off EventBridge Scheduler schedule (over 15 minutes, as the API makes
    # it) targets the pool too.
    later = offpath_stack.request(
        "POST",
        "/jobs",
        json={"task": "build_report_archive", "args": ARCHIVE, "delay_seconds": 3600},
    )
    assert later.json()["status"] == "scheduled"
    # The template's own schedules would tick in this hour at some hours of the day.
    offpath_stack.schedules.clear()
    offpath_stack.advance(3601)
    assert _depths(offpath_stack) == {"default": 0, "heavy": 4}

    offpath_stack.drain()

    [cli_job] = json.loads(result.stdout)["jobs"]
    job_ids = [
        response.json()["job_id"],
        cli_job["job_id"],
        fired["job_id"],
        later.json()["job_id"],
    ]
    for job_id in job_ids:
        job = offpath_stack.job(job_id)
        assert job.status is JobStatus.SUCCEEDED, job.last_error
        assert job.result is not None and job.result["raw_bytes"] > job.result["compressed_bytes"]
    heavy = offpath_stack.functions["HeavyWorkerFunction"].invocations
    assert [i.error for i in heavy] == [None] * 4, "batch size 1: one job per invocation"
    assert offpath_stack.functions["WorkerFunction"].invocations == []
    assert [r["user_id"] for r in services.read("archive")] == [7] * 4


def test_a_task_of_a_pool_the_template_lacks_is_refused_and_two_pools_share_a_call(
    offpath_stack: OffpathStack,
) -> None:
    tasks = TaskRegistry()

    @tasks.task(pool="gpu")
    def train(epochs: int) -> None:
        """Declared for a pool nobody deployed."""

    with pytest.raises(ConfigurationError, match="task train runs in pool 'gpu'"):
        offpath_stack.submit(JobRequest(train, {"epochs": 1}, job_id="train-1"))

    assert _depths(offpath_stack) == {"default": 0, "heavy": 0}
    with pytest.raises(JobNotFound):
        offpath_stack.job("train-1")

    # Jobs of two pools in one call each go to their own queue.
    offpath_stack.calls.clear()
    offpath_stack.submit(
        [
            JobRequest(build_report_archive, build_report_archive.validate(ARCHIVE)),
            JobRequest(generate_report, generate_report.bind(user_id=1, month="2026-01")),
            JobRequest(generate_report, generate_report.bind(user_id=2, month="2026-01")),
        ]
    )

    assert _depths(offpath_stack) == {"default": 2, "heavy": 1}

    # offpath status shows each pool: its queue and its dead-letter queue.
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    pools = json.loads(result.stdout)["pools"]
    assert {n: p["queue"]["visible"] for n, p in pools.items()} == {"default": 2, "heavy": 1}
    assert (
        pools["heavy"]["dead_letter_queue"]["url"] == offpath_stack.location.pools["heavy"].dlq_url
    )
    table = CliRunner().invoke(app, ["status", "--once"])
    assert "(pool heavy)" in table.output and "(pool heavy, DLQ)" in table.output
    # One SendMessageBatch per queue.
    assert (
        offpath_stack.calls.count("SendMessageBatch") + offpath_stack.calls.count("SendMessage")
        == 2
    )


def test_a_heavy_job_delivered_while_another_attempt_holds_it_waits_then_runs_once(
    offpath_stack: OffpathStack,
) -> None:
    """HeavyWorkerFunction hands a copy back for as long as another attempt's lease
    lasts (that attempt died: a Lambda timeout), then takes the job over."""
    response = offpath_stack.request(
        "POST", "/jobs", json={"task": "build_report_archive", "args": ARCHIVE}
    )
    job_id = response.json()["job_id"]
    lease_s = 600
    held = offpath_stack.store.claim(job_id, "build_report_archive", lease_s, max_attempts=3)
    assert held.attempts == 1

    offpath_stack.drain()

    assert services.read("archive") == [], "handed back, not run"
    heavy_queue = offpath_stack.location.pools["heavy"].queue_url
    assert offpath_stack.depth(heavy_queue)["in_flight"] == 1
    offpath_stack.advance(lease_s + 2)
    offpath_stack.drain()

    job = offpath_stack.job(job_id)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
    assert [r["user_id"] for r in services.read("archive")] == [7]
    heavy = offpath_stack.functions["HeavyWorkerFunction"].invocations
    assert [i.error for i in heavy] == [None, None]
    assert heavy[0].response == {"batchItemFailures": [{"itemIdentifier": ANY}]}


def _queued_before_the_move(stack: OffpathStack, job_id: str, **attributes: str) -> None:
    """A build_report_archive job's message in the default pool's queue, as sent
    before the task moved to the heavy pool; its record as the producer wrote it."""
    stack.store.create(
        NewJob(job_id=job_id, task="build_report_archive", correlation_id=job_id, args_sha256="")
    )
    body = Envelope.new("build_report_archive", ARCHIVE, job_id=job_id).to_body()
    stack.clients.sqs.send_message(
        QueueUrl=stack.location.pool().queue_url,
        MessageBody=body,
        MessageAttributes={
            k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
        },
    )


def test_a_task_received_by_the_wrong_pool_is_forwarded_and_runs_there_once(
    offpath_stack: OffpathStack,
) -> None:
    # Two copies: SQS delivering the record again after the forward, before its delete.
    _queued_before_the_move(offpath_stack, "moved-1")
    _queued_before_the_move(offpath_stack, "moved-1")

    offpath_stack.drain()

    job = offpath_stack.job("moved-1")
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 1)
    default = offpath_stack.functions["WorkerFunction"].invocations
    heavy = offpath_stack.functions["HeavyWorkerFunction"].invocations
    assert default and all(i.error is None for i in default)
    assert len(heavy) == 2 and all(i.error is None for i in heavy), "one copy each"
    assert [r["user_id"] for r in services.read("archive")] == [7], "run once"
    assert _depths(offpath_stack) == {"default": 0, "heavy": 0}
    assert offpath_stack.dead_letters() == offpath_stack.dead_letters("heavy") == []

    # The other way: a quick task in the heavy pool's queue goes back to the default.
    report = Envelope.new("generate_report", {"user_id": 3, "month": "2026-02"}, job_id="r-3")
    offpath_stack.send_raw(report.to_body(), offpath_stack.location.pools["heavy"].queue_url)
    offpath_stack.drain()
    assert offpath_stack.job("r-3").status is JobStatus.SUCCEEDED
    assert len(offpath_stack.functions["HeavyWorkerFunction"].invocations) == 3
    assert [r["user_id"] for r in services.read("report")] == [3]

    # A copy forwarded already that lands in the wrong pool again (two deployments
    # disagreeing on the task's pool) is dead-lettered, not sent round and round.
    _queued_before_the_move(offpath_stack, "moved-2", **{"offpath.forwarded_from": "heavy"})
    offpath_stack.drain()

    [letter] = offpath_stack.dead_letters()
    assert (letter.job_id, letter.reason) == ("moved-2", "unknown_pool")
    assert "forwarded to pool 'default' already" in (letter.error_message or "")
    assert offpath_stack.job("moved-2").status is JobStatus.DEAD


def test_a_task_whose_pool_is_unknown_is_dead_lettered_with_its_reason(
    offpath_stack: OffpathStack,
) -> None:
    tasks = TaskRegistry()

    @tasks.task(pool="gpu")
    def train(epochs: int) -> None:
        """Of a pool this deployment does not have."""

    offpath_stack.store.create(
        NewJob(job_id="train-2", task="train", correlation_id="c", args_sha256="")
    )
    offpath_stack.send_raw(Envelope.new("train", {"epochs": 1}, job_id="train-2").to_body())

    offpath_stack.drain(offpath_stack.worker(tasks))

    [letter] = offpath_stack.dead_letters()
    assert (letter.job_id, letter.task, letter.reason) == ("train-2", "train", "unknown_pool")
    assert "task train runs in pool 'gpu', unknown here (pools: default, heavy)" in (
        letter.error_message or ""
    )
    assert offpath_stack.job("train-2").status is JobStatus.DEAD


def test_offpath_dlq_lists_and_redrives_each_pools_dead_letters_to_its_own_queue(
    offpath_stack: OffpathStack,
) -> None:
    # A heavy job dead-lettered by its pool's worker (a permanent error of its own).
    heavy = offpath_stack.location.pools["heavy"]
    body = Envelope.new("build_report_archive", {"user_id": 0}, job_id="bad-1").to_body()
    offpath_stack.send_raw(body, heavy.queue_url)  # user_id must be > 0: invalid arguments
    offpath_stack.drain()
    assert offpath_stack.dead_letters("heavy")[0].job_id == "bad-1"

    listed = CliRunner().invoke(app, ["dlq", "list", "--pool", "heavy", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [m["job_id"] for m in json.loads(listed.stdout)] == ["bad-1"]
    default = CliRunner().invoke(app, ["dlq", "list", "--json"])
    assert json.loads(default.stdout) == []

    moved = CliRunner().invoke(app, ["dlq", "redrive", "--pool", "heavy", "--all", "--json"])

    assert moved.exit_code == 0, moved.output
    assert json.loads(moved.stdout)["destination_url"] == heavy.queue_url
    assert _depths(offpath_stack)["heavy"] == 1 and offpath_stack.dead_letters("heavy") == []
    unknown = CliRunner().invoke(app, ["dlq", "list", "--pool", "gpu"])
    assert unknown.exit_code == 1 and "no pool 'gpu'" in unknown.output
