"""Delayed and scheduled jobs on the app's template, under the emulator's clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from functions.shared import services
from functions.shared import tasks as example_tasks

from offpath.local.emulator import Emulator
from offpath.local.schedules import list_one_offs
from offpath.producer import JobRequest, Producer
from offpath.runtime import build_producer
from offpath.settings import Settings
from offpath.store import JobStatus
from tests.emulator.conftest import StartEmulator
from tests.support import TEMPLATE

pytestmark = pytest.mark.emulator


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> Emulator:
    return start_emulator(TEMPLATE)


@pytest.fixture
def producer(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Producer:
    """The producer as ApiFunction builds it, from ApiFunction's environment."""
    for name, value in emulator.provisioned.environment("ApiFunction").items():  # type: ignore[union-attr]
        monkeypatch.setenv(name, value)
    built = build_producer(Settings(), emulator.clients)  # type: ignore[arg-type]
    built.clock = emulator.clock.now
    built.store.clock = emulator.clock.now  # type: ignore[attr-defined]
    return built


def _report(delay_s: int = 0, **kwargs: Any) -> JobRequest:
    args = example_tasks.generate_report.bind(7, "2026-07")
    return JobRequest(example_tasks.generate_report, args, delay_s=delay_s, **kwargs)


def _groups(emulator: Emulator) -> list[str]:
    return list(emulator.provisioned.topology.schedule_groups.values())  # type: ignore[union-attr]


def test_a_two_hour_delay_is_scheduled_fires_after_its_time_runs_once_and_is_gone(
    emulator: Emulator, producer: Producer
) -> None:
    job = producer.enqueue(_report(delay_s=7200))

    record = producer.store.get(job.job_id)
    assert (job.status, record.status) == (JobStatus.SCHEDULED, JobStatus.SCHEDULED)
    assert record.due_at is not None
    expected_due = emulator.clock.now() + timedelta(hours=2)
    assert abs((record.due_at - expected_due).total_seconds()) < 5
    [one_off] = list_one_offs(emulator.clients.scheduler, _groups(emulator))  # type: ignore[union-attr]
    assert one_off.expression.startswith("at(")
    assert one_off.delete_after

    def fired_one_offs() -> list[str]:
        # The template's own schedules may tick too, depending on the wall clock.
        return [name for name, _ in emulator.fire_due() if name.startswith("job-")]

    emulator.advance(7190)
    assert fired_one_offs() == []
    emulator.drain()
    assert producer.store.get(job.job_id).status is JobStatus.SCHEDULED

    emulator.advance(15)
    assert fired_one_offs() == [one_off.name]
    emulator.drain()
    emulator.advance(3600)
    emulator.fire_due()
    emulator.drain()

    final = producer.store.get(job.job_id)
    assert (final.status, final.attempts) == (JobStatus.SUCCEEDED, 1)
    assert list_one_offs(emulator.clients.scheduler, _groups(emulator)) == []  # type: ignore[union-attr]


def test_cancelling_deletes_the_schedule_and_the_job_never_runs(
    emulator: Emulator, producer: Producer
) -> None:
    job = producer.enqueue(_report(delay_s=3 * 3600))

    cancelled = producer.cancel(job.job_id)

    assert cancelled.status is JobStatus.CANCELLED
    assert list_one_offs(emulator.clients.scheduler, _groups(emulator)) == []  # type: ignore[union-attr]
    emulator.advance(4 * 3600)
    fired = [name for name, _ in emulator.fire_due()]
    assert not [name for name in fired if name.startswith("job-")]
    emulator.drain()
    assert producer.store.get(job.job_id).status is JobStatus.CANCELLED
    assert services.read("report") == []


def test_a_ten_minute_delay_uses_delay_seconds_and_creates_no_schedule(
    emulator: Emulator, producer: Producer
) -> None:
    job = producer.enqueue(_report(delay_s=600))

    assert job.status is JobStatus.QUEUED
    assert list_one_offs(emulator.clients.scheduler, _groups(emulator)) == []  # type: ignore[union-attr]
    assert emulator.drain() == [], "delayed: not visible yet"
    emulator.advance(601)
    assert [r.received for r in emulator.drain()] == [1]
    assert producer.store.get(job.job_id).status is JobStatus.SUCCEEDED
    calls = emulator.server.calls()  # type: ignore[union-attr]
    assert "scheduler:CreateSchedule" not in calls


def test_run_at_in_a_time_zone_keeps_its_zone_in_the_schedule(
    emulator: Emulator, producer: Producer
) -> None:
    from zoneinfo import ZoneInfo

    when = (emulator.clock.now() + timedelta(days=1)).astimezone(ZoneInfo("Asia/Tokyo"))
    when = when.replace(microsecond=0)
    producer.enqueue(_report(run_at=when))

    [one_off] = list_one_offs(emulator.clients.scheduler, _groups(emulator))  # type: ignore[union-attr]
    assert one_off.timezone == "Asia/Tokyo"
    assert one_off.expression == f"at({when:%Y-%m-%dT%H:%M:%S})"
    assert one_off.due_at == when


def test_a_duplicated_schedule_tick_enqueues_one_job(emulator: Emulator) -> None:
    tick_event = {"task": "send_daily_digest", "args": {}}
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2026-06-01T08:00:00Z",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/offpath-DailyDigest"],
        "detail": tick_event,
    }

    first = emulator.invoke("SchedulerFunction", event)
    second = emulator.invoke("SchedulerFunction", {**event, "id": "e2"})

    assert first == {"job_id": "sched-offpath-DailyDigest-20260601T080000Z", "duplicate": False}
    assert second == {**first, "duplicate": True}
    # Its record still waits, so the repeat sends it again (the first send may have
    # been lost); the worker's claim runs it once.
    assert sum(r.received for r in emulator.drain()) == 2
    assert len(services.read("digest")) == 1


def test_schedule_ticks_across_days_each_enqueue_one_job(emulator: Emulator) -> None:
    now = emulator.clock.now()
    emulator.advance(timedelta(days=3).total_seconds())

    fired = [tick for name, tick in emulator.fire_due() if name == "DailyDigest"]
    responses = [i for i in emulator.invocations if i.function == "SchedulerFunction"]

    assert len(fired) == 3
    assert all(t.hour == 8 and t.minute == 0 for t in fired)
    assert all(now < t <= emulator.clock.now() for t in fired)
    assert all(i.ok for i in responses)
    drained = sum(r.received for r in emulator.drain())
    assert drained == len(responses), "one job per tick, every tick"
    digests = services.read("digest")
    assert len(digests) == 3
