"""offpath load: bounded in count and time, refused on a billed target unless agreed to,
and its summary counts what it sent and what finished."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from offpath.cli import app
from offpath.ops.load import LoadPlan, LoadRefused, LoadResult, send, watch
from offpath.producer import Enqueued
from offpath.store import JobStatus
from offpath.testing import OffpathStack

ARGS = '{"user_id": 1, "month": "2026-01"}'


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.001)


class CountingProducer:
    """Takes jobs and answers handles; each call costs ``call_s`` of the fake clock."""

    def __init__(self, clock: FakeClock, call_s: float = 0.0) -> None:
        self.clock, self.call_s = clock, call_s
        self.calls: list[int] = []

    def enqueue_many(self, jobs: list[Any]) -> list[Enqueued]:
        self.calls.append(len(jobs))
        self.clock.now += self.call_s
        start = sum(self.calls) - len(jobs)
        return [Enqueued(f"j{start + i}", JobStatus.QUEUED) for i in range(len(jobs))]


def _send(plan: LoadPlan, producer: CountingProducer, clock: FakeClock) -> LoadResult:
    return send(producer, lambda i: i, plan, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type,return-value]


def test_it_sends_rate_times_duration_jobs_as_they_fall_due_never_more_than_max_jobs() -> None:
    clock = FakeClock()
    producer = CountingProducer(clock)

    result = _send(LoadPlan(rate=100, duration_s=1, max_jobs=30), producer, clock)

    assert result.sent == sum(producer.calls) == 30
    assert max(producer.calls) <= 10
    assert clock.now == pytest.approx(0.29, abs=0.02)  # job i is due at i / rate
    assert LoadPlan(rate=5, duration_s=2).total == 10


def test_it_stops_at_its_duration_even_when_sending_falls_behind() -> None:
    clock = FakeClock()
    producer = CountingProducer(clock, call_s=2.0)  # a call takes two seconds

    result = _send(LoadPlan(rate=10, duration_s=2), producer, clock)

    # t=0: the one job due; t=2: ten of the 20 due; t=4: past the deadline (3 s).
    assert (result.sent, producer.calls) == (11, [1, 10])
    assert clock.now == pytest.approx(4.0)


@pytest.mark.parametrize(
    "bounds",
    [
        {"rate": 0, "duration_s": 1},
        {"rate": 1, "duration_s": 3601},
        {"rate": 1, "duration_s": 1, "max_jobs": 100_001},
        {"rate": 1, "duration_s": 1, "wait_s": 601},
    ],
)
def test_out_of_bounds_plans_are_refused(bounds: dict[str, Any]) -> None:
    with pytest.raises(LoadRefused):
        LoadPlan(**bounds)


def _load(monkeypatch: pytest.MonkeyPatch, stack: OffpathStack, *extra: str) -> Any:
    monkeypatch.setenv("OFFPATH_QUEUE_URL", stack.queue_url)
    monkeypatch.setenv("OFFPATH_TABLE_NAME", stack.table_name)
    args = ["load", "--task", "generate_report", "--args", ARGS, "--rate", "40"]
    return CliRunner().invoke(app, [*args, "--duration", "0.5", "--wait", "0", "--json", *extra])


def test_a_target_aws_bills_is_refused_without_the_flag_and_nothing_is_sent(
    monkeypatch: pytest.MonkeyPatch, stack: OffpathStack
) -> None:
    # No AWS_ENDPOINT_URL: to offpath this is AWS itself (moto answers in-process).
    result = _load(monkeypatch, stack)

    assert result.exit_code == 1
    assert "--i-understand-this-costs" in result.stderr and "billed" in result.stderr
    assert stack.drain() == []


def test_with_the_flag_it_sends_reports_and_the_jobs_finish(
    monkeypatch: pytest.MonkeyPatch, stack: OffpathStack
) -> None:
    result = _load(monkeypatch, stack, "--i-understand-this-costs")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["sent"], summary["durable"], summary["sampled"]) == (20, 20, 20)
    assert summary["statuses"] == {"queued": 20} and summary["finished"] == 0
    assert summary["enqueue_latency_ms"]["max"] >= summary["enqueue_latency_ms"]["p50"] > 0
    assert sum(r.received for r in stack.drain()) == 20

    after = watch(stack.store, LoadResult(job_ids=_job_ids(stack)), wait_s=0)
    assert after.statuses == {"succeeded": 20}
    assert len(after.queue_age_s) == 20 and min(after.queue_age_s) >= 0


def _job_ids(stack: OffpathStack) -> list[str]:
    pages = stack.clients.dynamodb.get_paginator("scan").paginate(TableName=stack.table_name)
    return [item["pk"]["S"].removeprefix("job#") for page in pages for item in page["Items"]]
