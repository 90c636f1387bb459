"""The capacity model's arithmetic on a small fixed input, and docs/capacity.md is its output."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from bench.capacity import (
    Assumptions,
    first_limit,
    load,
    load_at,
    main,
    ramp_minutes,
    render,
    worker_setting,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "bench" / "results" / "costs.json"


def _figures(
    calls: Mapping[str, float], invocations: float, scheduled: float = 0
) -> dict[str, object]:
    return {
        "calls": dict(calls),
        "lambda_invocations": invocations,
        "lambda_billed_ms": 20.0,
        "scheduler_invocations": scheduled,
    }


DURABLE_1 = {
    "sqs:SendMessage": 1,
    "sqs:ReceiveMessage": 1,
    "sqs:DeleteMessageBatch": 1,
    "dynamodb:PutItem": 1,
    "dynamodb:UpdateItem": 2,
}
DURABLE_10 = {
    "sqs:SendMessageBatch": 0.1,
    "sqs:ReceiveMessage": 0.1,
    "sqs:DeleteMessageBatch": 0.1,
    "dynamodb:PutItem": 1,
    "dynamodb:UpdateItem": 2,
}
DELAYED_10 = {**DURABLE_10, "sqs:SendMessage": 1, "scheduler:CreateSchedule": 1}
del DELAYED_10["sqs:SendMessageBatch"]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    kinds = {
        "durable": {"1": _figures(DURABLE_1, 1), "10": _figures(DURABLE_10, 0.1)},
        "delayed": {
            "1": _figures({**DURABLE_1, "scheduler:CreateSchedule": 1}, 1, 1),
            "10": _figures(DELAYED_10, 0.1, 1),
        },
    }
    data = {
        "kind": "per_job_calls",
        "worker_memory_mb": 1024,
        "write_units_per_write": 1,
        "largest_item_bytes": 500,
        "kinds": kinds,
    }
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"run": "fixed", "sections": [{"title": "x", "data": data}]}))
    return path


def test_shared_calls_are_divided_by_the_batch_and_per_job_calls_are_not(small: Path) -> None:
    measured = load(small)

    ten, five = measured.per_job("durable", 10), measured.per_job("durable", 5)
    thirty = measured.per_job("durable", 30)

    assert ten.sqs_requests == pytest.approx(0.3)
    assert five.sqs_requests == pytest.approx(0.6)  # 3 shared requests / 5
    assert thirty.sqs_requests == pytest.approx(0.3)  # SQS batches stop at 10
    assert thirty.lambda_invocations == pytest.approx(1 / 30)  # invocations do not
    assert ten.write_units == pytest.approx(3)
    assert five.write_units == pytest.approx(3)


def test_a_rate_becomes_requests_writes_concurrency_and_dollars(small: Path) -> None:
    measured = load(small)
    a = Assumptions(job_s=0.08, batch=10, max_concurrency=1000)

    at_100 = load_at(measured.per_job("durable", 10), 100, a, measured.memory_mb)

    assert at_100.sqs_requests_s == pytest.approx(30)
    assert at_100.write_units_s == pytest.approx(300)
    assert at_100.concurrency == pytest.approx(100 * 0.1)  # 20 ms offpath + 80 ms job
    per_job = 0.3 * 0.4e-6 + 3 * 0.625e-6 + 0.1 * 0.2e-6 + 0.1 * 1 * 0.0000166667
    assert at_100.dollars_per_hour == pytest.approx(100 * 3600 * per_job)
    assert at_100.dollars_per_month == pytest.approx(at_100.dollars_per_hour * 730)


def test_delayed_jobs_count_scheduler_calls_and_pending_schedules(small: Path) -> None:
    measured = load(small)
    a = Assumptions(delay_s=3600, max_concurrency=1000)

    at_2000 = load_at(measured.per_job("delayed", 10), 2000, a, measured.memory_mb)

    assert at_2000.scheduler_creates_s == pytest.approx(2000)
    assert at_2000.scheduler_invocations_s == pytest.approx(2000)
    assert at_2000.pending_schedules == pytest.approx(2000 * 3600)
    assert "EventBridge Scheduler invocations (1,000/s)** (2.00x)" in first_limit(at_2000, a)


def test_the_first_limit_is_the_most_used_and_names_its_knob(small: Path) -> None:
    measured = load(small)
    a = Assumptions(job_s=0.08, max_concurrency=5)
    per_job = measured.per_job("durable", 10)

    assert first_limit(load_at(per_job, 10, a, 1024), a).startswith("none; nearest:")
    at_2000 = first_limit(load_at(per_job, 2000, a, 1024), a)  # 6,000 WRU/s
    assert "DynamoDB on-demand: a new table's instant throughput (4,000 WRU/s)** (1.50x)" in at_2000
    assert "WarmThroughput" in at_2000
    at_20k = first_limit(load_at(per_job, 20_000, a, 1024), a)  # 2,000 concurrent, 60k WRU/s
    assert "new table" in at_20k and "(15x)" in at_20k


def test_the_templates_worker_bound_is_a_setting_to_raise_not_an_aws_limit(small: Path) -> None:
    per_job = load(small).per_job("durable", 10)
    a = Assumptions(job_s=0.08, max_concurrency=5)

    assert worker_setting(load_at(per_job, 40, a, 1024), a) == "as deployed (5)"
    assert worker_setting(load_at(per_job, 100, a, 1024), a) == "WorkerMaxConcurrency >= 10"
    assert "provisioned mode" in worker_setting(load_at(per_job, 10_010, a, 1024), a)


def test_the_event_source_ramps_300_a_minute_to_1250_or_3x_in_provisioned_mode() -> None:
    assert ramp_minutes(305, provisioned=False) == pytest.approx(1.0)
    assert ramp_minutes(1_251, provisioned=False) is None
    assert ramp_minutes(905, provisioned=True) == pytest.approx(1.0)
    assert ramp_minutes(20_001, provisioned=True) is None


def test_a_file_without_the_cost_section_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"run": "x", "sections": [{"title": "cold", "data": {}}]}))

    with pytest.raises(ValueError, match="no per-job calls"):
        load(path)


def test_docs_capacity_is_what_the_script_makes_of_the_committed_run(tmp_path: Path) -> None:
    out = tmp_path / "capacity.md"

    assert main([str(COMMITTED), "--write", str(out)]) == 0

    assert out.read_text() == (ROOT / "docs" / "capacity.md").read_text(), (
        "regenerate: python -m bench.capacity bench/results/costs.json --write docs/capacity.md"
    )
    assert render(load(COMMITTED), Assumptions()) == out.read_text()
