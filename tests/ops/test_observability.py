"""Logs and metrics as CloudWatch would receive them: the functions' stdout, per function."""

from __future__ import annotations

import json
import urllib.request
from collections import defaultdict
from typing import Any

import pytest

from offpath.envelope import Envelope
from tests.ops.conftest import OpsStack

pytestmark = pytest.mark.emulator


def _post(ops: OpsStack, path: str, body: Any, correlation_id: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 -- loopback
        f"{ops.emulator.api_url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "X-Correlation-Id": correlation_id},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.status == 202
        accepted: dict[str, Any] = json.loads(response.read())
        return accepted


def _metrics(lines: list[dict[str, Any]]) -> dict[tuple[str, str], list[float]]:
    """(metric name, task) -> values, from the EMF documents; checks each document's shape."""
    found: dict[tuple[str, str], list[float]] = defaultdict(list)
    for line in lines:
        if "_aws" not in line:
            continue
        [directive] = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "offpath"
        assert [sorted(d) for d in directive["Dimensions"]] == [["service", "task"]]
        assert line["service"] == "offpath-worker"
        for metric in directive["Metrics"]:
            unit = "Milliseconds" if metric["Name"] in ("JobDuration", "QueueLatency") else "Count"
            assert metric["Unit"] == unit, metric
            values = line[metric["Name"]]
            found[(metric["Name"], line["task"])].extend(
                values if isinstance(values, list) else [values]
            )
    return found


def test_one_correlation_id_runs_from_the_api_request_into_the_worker_logs(
    ops: OpsStack,
) -> None:
    accepted = _post(ops, "/reports", {"user_id": 42, "month": "2026-06"}, "ops-corr-42")
    job_id = accepted["job_id"]

    ops.emulator.drain()

    api = [
        line for line in ops.log_lines("ApiFunction") if line.get("correlation_id") == "ops-corr-42"
    ]
    enqueued = [line for line in api if line.get("message") == "job enqueued"]
    assert [line["job_id"] for line in enqueued] == [job_id]
    worker = [
        line
        for line in ops.log_lines("WorkerFunction")
        if line.get("correlation_id") == "ops-corr-42"
    ]
    assert worker, "the worker's lines carry the request's correlation id"
    assert {line["job_id"] for line in worker} == {job_id}
    assert "job succeeded" in {line["message"] for line in worker}


def test_the_worker_emits_each_job_metric_under_its_task(ops: OpsStack) -> None:
    # GIVEN a job that succeeds, one that fails twice (dead), and one no task can run
    _post(ops, "/reports", {"user_id": 7, "month": "2026-06"}, "ops-metrics-1")
    _post(ops, "/jobs", {"task": "always_fail", "args": {}}, "ops-metrics-2")
    stray = Envelope.new("no_such_task", {}).to_body()
    ops.target.clients.sqs.send_message(QueueUrl=ops.queue_url, MessageBody=stray)
    before = len(ops.log_lines("WorkerFunction"))

    # WHEN the worker runs them (always_fail backs off 1 s before its last attempt)
    ops.emulator.drain()
    ops.emulator.advance(2)
    ops.emulator.drain()

    # THEN every metric is there, under its task, in one EMF document per task per batch
    lines = ops.log_lines("WorkerFunction")[before:]
    metrics = _metrics(lines)
    report = "generate_report"
    assert {name for name, task in metrics if task == report} == {
        "JobsStarted",
        "QueueLatency",
        "JobDuration",
        "JobsSucceeded",
    }
    assert metrics[("JobsStarted", "always_fail")] == [1.0, 1.0]
    assert metrics[("JobsFailed", "always_fail")] == [1.0]
    assert metrics[("JobsDead", "always_fail")] == [1.0]
    assert metrics[("JobsDead", "unknown")] == [1.0], "no dimension from a message body"
    assert all(v >= 0 for v in metrics[("QueueLatency", report)] + metrics[("JobDuration", report)])
    per_task: dict[str, list[set[str]]] = defaultdict(list)
    for line in lines:
        if "_aws" in line:
            names = {m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
            per_task[line["task"]].append(names)
    attempt = {"JobsStarted", "QueueLatency", "JobDuration"}
    assert per_task == {
        report: [attempt | {"JobsSucceeded"}],  # one line for the job's four metrics
        "always_fail": [attempt | {"JobsFailed"}, attempt | {"JobsDead"}],  # two batches
        "unknown": [{"JobsDead"}],
    }
