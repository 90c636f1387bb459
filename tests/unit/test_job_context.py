"""JobContext on its own: the write and read bounds, with a fake clock and store."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from offpath.context import (
    CANCEL_CHECK_INTERVAL_S,
    MAX_PROGRESS_WRITES,
    PROGRESS_INTERVAL_S,
    JobCancelled,
    JobContext,
)
from offpath.tasks import TaskRegistry


@dataclass
class FakeStore:
    writes: list[tuple[float, str]] = field(default_factory=list)
    reads: int = 0
    requested: bool = False

    def record_progress(self, job_id: str, attempt: int, fraction: float, note: str) -> bool | None:
        self.writes.append((fraction, note))
        return self.requested

    def cancel_requested(self, job_id: str) -> bool:
        self.reads += 1
        return self.requested


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _context(store: FakeStore, clock: FakeClock, *, durable: bool = True) -> JobContext:
    return JobContext("j1", "t", 1, "c1", durable, deadline=clock() + 30, store=store, clock=clock)


def test_progress_writes_at_most_once_per_interval_carrying_the_latest_value() -> None:
    store, clock = FakeStore(), FakeClock()
    ctx = _context(store, clock)

    assert ctx.progress(0.1, "a") is True
    assert ctx.progress(0.2, "b") is False
    assert ctx.progress(0.3, "c") is False
    clock.t += PROGRESS_INTERVAL_S
    assert ctx.progress(0.4, "d") is True

    assert store.writes == [(0.1, "a"), (0.4, "d")]


def test_progress_writes_are_bounded_per_attempt_however_long_the_task_runs() -> None:
    store, clock = FakeStore(), FakeClock()
    ctx = _context(store, clock)

    for i in range(10 * MAX_PROGRESS_WRITES):
        ctx.progress(i / (10 * MAX_PROGRESS_WRITES))
        clock.t += PROGRESS_INTERVAL_S

    assert len(store.writes) == MAX_PROGRESS_WRITES


@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan"), True])
def test_a_fraction_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match=r"0\.0\.\.1\.0"):
        _context(FakeStore(), FakeClock()).progress(fraction)


def test_a_fire_and_forget_context_writes_nothing_and_is_never_cancelled() -> None:
    store, clock = FakeStore(requested=True), FakeClock()
    ctx = _context(store, clock, durable=False)

    assert ctx.progress(0.5, "x") is False
    assert ctx.cancelled() is False
    assert store.writes == [] and store.reads == 0


def test_cancelled_reads_at_most_once_per_interval_and_a_progress_write_answers_it() -> None:
    store, clock = FakeStore(), FakeClock()
    ctx = _context(store, clock)

    assert [ctx.cancelled() for _ in range(50)] == [False] * 50
    assert store.reads == 1
    store.requested = True
    clock.t += CANCEL_CHECK_INTERVAL_S / 2
    assert ctx.cancelled() is False  # still within the interval: from memory
    ctx.progress(0.5)  # the write returns the record: the request is seen
    assert ctx.cancelled() is True
    assert store.reads == 1
    with pytest.raises(JobCancelled):
        ctx.raise_if_cancelled()


def test_time_left_counts_down_to_zero() -> None:
    clock = FakeClock()
    ctx = _context(FakeStore(), clock)
    clock.t += 12
    assert ctx.time_left_s() == 18
    clock.t += 100
    assert ctx.time_left_s() == 0


def test_the_context_parameter_is_not_one_of_the_jobs_arguments() -> None:
    tasks = TaskRegistry()

    @tasks.task
    def export(user_id: int, ctx: JobContext) -> str:
        return f"{user_id}:{ctx.job_id.startswith('local-')}"

    assert export.bind(7) == {"user_id": 7}
    assert list(export.args_model.model_fields) == ["user_id"]
    # Run outside a worker, it gets a context with no record.
    assert export.run({"user_id": 7}) == "7:True"


def test_two_context_parameters_are_refused() -> None:
    tasks = TaskRegistry()
    with pytest.raises(TypeError, match="at most one JobContext"):

        @tasks.task
        def twice(a: JobContext, b: JobContext) -> None: ...
