"""The benchmark harness counts what it claims to count (no timings are asserted)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.pricing import PerJob, item_bytes, write_units
from bench.stack import producer_for, running_emulator

from bench import cold_start, costs
from offpath.local.emulator import Emulator


def test_cost_per_million_jobs_adds_up_each_list_price() -> None:
    per_job = PerJob(
        sqs_requests=3,
        dynamodb_write_units=3,
        dynamodb_read_units=0,
        lambda_invocations=1,
        lambda_billed_ms=20,
    )

    dollars = per_job.dollars_per_million(memory_mb=512)

    assert dollars["sqs"] == pytest.approx(1.20)
    assert dollars["dynamodb"] == pytest.approx(1.875)
    assert dollars["lambda_requests"] == pytest.approx(0.20)
    assert dollars["lambda_duration"] == pytest.approx(0.02 * 0.5 * 16.6667)
    assert dollars["total"] == pytest.approx(sum(v for k, v in dollars.items() if k != "total"))


def test_item_size_follows_dynamodb_rules_and_rounds_up_to_write_units() -> None:
    item = {"pk": {"S": "job#abc"}, "attempts": {"N": "12"}}

    assert item_bytes(item) == len("pk") + len("job#abc") + len("attempts") + 2
    assert write_units(item_bytes(item)) == 1
    assert write_units(1025) == 2


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    outbox = tmp_path_factory.mktemp("bench") / "outbox.jsonl"
    with running_emulator(background=False, outbox=Path(outbox)) as running:
        yield running


@pytest.mark.emulator
def test_a_durable_job_makes_exactly_its_documented_calls(emulator: Emulator) -> None:
    [durable] = [s for s in costs.SCENARIOS if s.key == "durable"]

    run = costs.run_scenario(emulator, producer_for(emulator), durable, jobs=1)

    assert run.calls == Counter(
        {
            "sqs:SendMessage": 1,
            "sqs:ReceiveMessage": 1,
            "dynamodb:PutItem": 1,  # the record, queued
            "dynamodb:UpdateItem": 2,  # claim (running), then succeeded
            "sqs:DeleteMessageBatch": 1,
        }
    )
    assert (run.empty_receives, run.invocations) == (1, 1)


@pytest.mark.emulator
def test_layering_idempotency_adds_exactly_the_computed_calls(emulator: Emulator) -> None:
    producer = producer_for(emulator)
    [retry] = [s for s in costs.SCENARIOS if s.key == "retry"]

    ours = costs.run_scenario(emulator, producer, retry, jobs=1)
    layered = costs.run_scenario(emulator, producer, costs.LAYERED["retry"], jobs=1)

    assert ours.calls["sqs:ChangeMessageVisibility"] == 1
    assert ours.calls["dynamodb:UpdateItem"] == 4  # claim, failed, claim, succeeded
    assert layered.calls - ours.calls == costs.LAYERED_EXTRA["retry"]
    assert ours.calls - layered.calls == Counter()


@pytest.mark.emulator
def test_a_delayed_job_counts_its_schedule_and_its_delivery_not_schedulers_own_calls(
    emulator: Emulator,
) -> None:
    [delayed] = [s for s in costs.SCENARIOS if s.key == "delayed"]

    run = costs.run_scenario(emulator, producer_for(emulator), delayed, jobs=1)

    assert run.calls == Counter(
        {
            "dynamodb:PutItem": 1,  # the record, scheduled
            "scheduler:CreateSchedule": 1,
            "sqs:SendMessage": 1,  # Scheduler's delivery, billed to the queue's owner
            "sqs:ReceiveMessage": 1,
            "dynamodb:UpdateItem": 2,
            "sqs:DeleteMessageBatch": 1,
        }
    )
    assert run.scheduler_invocations == 1


def test_cold_start_children_cache_byte_code_whatever_the_parent_says(tmp_path: Path) -> None:
    # GIVEN a parent that forbids byte-code; THEN each child caches it in the bench's
    # scratch prefix, as a Lambda artifact ships it, and keeps the function's settings.
    parent = {"PYTHONDONTWRITEBYTECODE": "1", "HOME": "/home/x", "OFFPATH_POOL": "stale"}

    env = cold_start.child_environment(
        "http://127.0.0.1:1", tmp_path, {"OFFPATH_POOL": "default"}, parent
    )

    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path)
    assert env["HOME"] == "/home/x"
    assert env["OFFPATH_POOL"] == "default"
