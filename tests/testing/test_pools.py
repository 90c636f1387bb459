"""Pools: every enqueuer sends a task to its own pool's queue, run by that pool's worker.

On the project's template (a default pool and a heavy one), in-process on moto.
"""

from __future__ import annotations

import json

import pytest
from functions.shared import services
from functions.shared.tasks import build_report_archive, generate_report
from typer.testing import CliRunner

from offpath.cli import app
from offpath.errors import ConfigurationError, JobNotFound
from offpath.producer import JobRequest
from offpath.store import JobStatus
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

    # A one-off EventBridge Scheduler schedule (over 15 minutes) targets the pool too.
    later = offpath_stack.submit(
        JobRequest(build_report_archive, build_report_archive.validate(ARCHIVE), delay_s=3600)
    )
    assert not isinstance(later, list)
    offpath_stack.advance(3601)
    assert _depths(offpath_stack) == {"default": 0, "heavy": 4}

    offpath_stack.drain()

    [cli_job] = json.loads(result.stdout)["jobs"]
    job_ids = [response.json()["job_id"], cli_job["job_id"], fired["job_id"], later.job_id]
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
    # One SendMessageBatch per queue.
    assert (
        offpath_stack.calls.count("SendMessageBatch") + offpath_stack.calls.count("SendMessage")
        == 2
    )
