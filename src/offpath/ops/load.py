"""``offpath load``: jobs at a steady rate, for a while, and what became of them.

Bounded in count and in time, whatever is asked: at most :data:`MAX_JOBS` jobs and
:data:`MAX_DURATION_S` seconds of sending, then at most ``wait_s`` of watching.
Jobs are sent as they fall due (``rate`` a second), ten per SendMessageBatch when
more than one is due. The summary gives the enqueue calls' latency, the queue age of
the durable jobs (started_at - created_at, from a sample of their records) and how
many finished. A deployed stack is refused unless the caller says they know it is
billed (the command's ``--i-understand-this-costs``).
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from offpath.errors import JobNotFound, OffpathError

if TYPE_CHECKING:
    from offpath.producer import Enqueued, JobRequest, Producer
    from offpath.store import JobStore

MAX_JOBS = 100_000
MAX_DURATION_S = 3_600.0
MAX_WAIT_S = 600.0
SAMPLE = 200  # job records read back for the queue age (one GetItem each)
BATCH = 10
FINAL = frozenset({"succeeded", "dead", "cancelled"})

Progress = Callable[[int, int], None]  # (sent, total)


class LoadRefused(OffpathError):
    """The load asked for is out of bounds, or its target is billed and not agreed to."""


@dataclass(frozen=True)
class LoadPlan:
    rate: float  # jobs per second
    duration_s: float
    max_jobs: int = 10_000
    wait_s: float = 30.0  # after sending, how long to watch the jobs finish

    def __post_init__(self) -> None:
        if not 0 < self.rate <= MAX_JOBS:
            raise LoadRefused(f"--rate must be above 0 and at most {MAX_JOBS:,} jobs/s")
        if not 0 < self.duration_s <= MAX_DURATION_S:
            raise LoadRefused(f"--duration must be above 0 and at most {MAX_DURATION_S:g} s")
        if not 1 <= self.max_jobs <= MAX_JOBS:
            raise LoadRefused(f"--max-jobs must be 1 to {MAX_JOBS:,}")
        if not 0 <= self.wait_s <= MAX_WAIT_S:
            raise LoadRefused(f"--wait must be 0 to {MAX_WAIT_S:g} s")

    @property
    def total(self) -> int:
        """The jobs it sends: rate x duration, at most max_jobs."""
        return min(self.max_jobs, max(1, math.floor(self.rate * self.duration_s)))


@dataclass
class LoadResult:
    sent: int = 0
    durable: int = 0
    send_s: float = 0.0  # how long sending took
    latencies_ms: list[float] = field(default_factory=list)  # per enqueue call
    job_ids: list[str] = field(default_factory=list)  # the durable jobs'
    statuses: Counter[str] = field(default_factory=Counter)  # of the sampled records
    queue_age_s: list[float] = field(default_factory=list)  # started_at - created_at
    sampled: int = 0
    watched_s: float = 0.0

    def summary(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "durable": self.durable,
            "send_seconds": round(self.send_s, 3),
            "rate_achieved": round(self.sent / self.send_s, 1) if self.send_s else None,
            "enqueue_latency_ms": _percentiles(self.latencies_ms),
            "queue_age_s": _percentiles(self.queue_age_s),
            "sampled": self.sampled,
            "statuses": dict(self.statuses),
            "finished": sum(n for s, n in self.statuses.items() if s in FINAL),
            "watched_seconds": round(self.watched_s, 1),
        }


def _percentiles(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 3)

    return {
        "p50": at(0.5),
        "p95": at(0.95),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def send(
    producer: Producer,
    make: Callable[[int], JobRequest],
    plan: LoadPlan,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Progress | None = None,
) -> LoadResult:
    """Send ``plan.total`` jobs, job ``i`` due ``i / rate`` seconds after the start.

    Stops at the plan's duration (plus a second) even if sending fell behind: what
    was not sent by then is not sent.
    """
    result = LoadResult()
    total = plan.total
    start = clock()
    deadline = start + plan.duration_s + 1.0
    while result.sent < total:
        now = clock()
        if now > deadline:
            break
        due = min(total, math.floor((now - start) * plan.rate) + 1)
        if due <= result.sent:
            sleep(min(0.05, max(0.0, result.sent / plan.rate - (now - start))))
            continue
        count = min(BATCH, due - result.sent)
        jobs = [make(result.sent + i) for i in range(count)]
        before = clock()
        handles = producer.enqueue_many(jobs)
        result.latencies_ms.append((clock() - before) * 1000)
        _record(result, handles)
        if on_progress is not None:
            on_progress(result.sent, total)
    result.send_s = clock() - start
    return result


def _record(result: LoadResult, handles: list[Enqueued]) -> None:
    result.sent += len(handles)
    for handle in handles:
        if handle.durable:
            result.durable += 1
            result.job_ids.append(handle.job_id)


def watch(
    store: JobStore,
    result: LoadResult,
    wait_s: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadResult:
    """Read back a sample of the durable jobs until all are final or ``wait_s`` passed."""
    ids = _sample(result.job_ids)
    start = clock()
    while True:
        statuses: Counter[str] = Counter()
        ages: list[float] = []
        for job_id in ids:
            try:
                job = store.get(job_id)
            except JobNotFound:
                statuses["missing"] += 1
                continue
            statuses[str(job.status)] += 1
            if job.started_at is not None:
                ages.append((job.started_at - job.created_at).total_seconds())
        result.statuses, result.queue_age_s, result.sampled = statuses, ages, len(ids)
        finished = sum(n for s, n in statuses.items() if s in FINAL)
        if finished == len(ids) or clock() - start >= wait_s:
            break
        sleep(min(1.0, max(0.0, wait_s - (clock() - start))))
    result.watched_s = clock() - start
    return result


def _sample(ids: list[str]) -> list[str]:
    if len(ids) <= SAMPLE:
        return list(ids)
    step = len(ids) / SAMPLE
    return [ids[int(i * step)] for i in range(SAMPLE)]
