"""The worker's metrics under a task dimension, and its subsegment per job (in-process moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from offpath.metrics import TaskMetrics
from offpath.producer import request
from offpath.tasks import TaskRegistry
from tests.support import Stack


def _documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_task_metrics_print_one_document_per_task_with_exact_dimensions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics = TaskMetrics(namespace="offpath", service="svc")
    for task in ("a", "b", "a"):
        metrics.add_task_metric(task, "JobsStarted", MetricUnit.Count, 1)
    metrics.add_metric("Unattributed", MetricUnit.Count, 1)

    metrics.flush()
    metrics.flush()  # nothing left: prints nothing, warns nothing

    documents = _documents(capsys.readouterr().out)
    by_task = {d.get("task"): d for d in documents}
    assert set(by_task) == {"a", "b", None}
    assert by_task["a"]["JobsStarted"] == [1.0, 1.0]
    assert by_task["a"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["task", "service"]]
    assert by_task[None]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]


def test_the_task_dimension_survives_powertools_own_flush_at_100_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics = TaskMetrics(namespace="offpath", service="svc")
    for _ in range(150):
        metrics.add_task_metric("a", "JobDuration", MetricUnit.Milliseconds, 1.5)
    metrics.flush()

    documents = _documents(capsys.readouterr().out)
    assert [len(d["JobDuration"]) for d in documents] == [100, 50]
    assert {d["task"] for d in documents} == {"a"}


class RecordingTracer:
    """Stands in for a tracer: records each job's span and its attributes."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, dict[str, Any]]] = []

    @contextmanager
    def job(
        self, job_id: str, task: str, parent: Mapping[str, str] | None = None
    ) -> Iterator[None]:
        self.spans.append((f"## {task}", {"job_id": job_id, "task": task}))
        yield


class RecordingSink:
    """A plain MetricsSink (Powertools ``Metrics`` has this shape): no task dimension."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add_metric(self, name: str, unit: MetricUnit | str, value: float) -> None:
        self.names.append(name)


def test_each_job_runs_in_a_subsegment_annotated_with_its_ids(stack: Stack) -> None:
    tasks = TaskRegistry()

    @tasks.task
    def double(n: int) -> int:
        return 2 * n

    jobs = stack.producer.enqueue_many([request(double, n) for n in (1, 2)])
    tracer = RecordingTracer()
    sink = RecordingSink()
    worker = stack.worker(tasks)
    worker.tracer = tracer
    worker.metrics = sink

    stack.drain(worker)

    assert sorted(tracer.spans, key=lambda s: s[1]["job_id"]) == sorted(
        [("## double", {"job_id": j.job_id, "task": "double"}) for j in jobs],
        key=lambda s: s[1]["job_id"],
    )
    assert sink.names.count("JobsSucceeded") == 2, "a plain sink still gets every metric"
