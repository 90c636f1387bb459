"""What the dashboard shows, read from the running emulator and its AWS endpoint.

Queues and the dead-letter queue go through :mod:`offpath.ops` (the engines behind
``offpath status`` and ``offpath dlq``); schedules and invocations come from the
:class:`~offpath.local.emulator.Emulator` itself.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from offpath.local.lambda_env import Invocation
from offpath.local.provision import Provisioned
from offpath.local.schedules import LocalSchedule
from offpath.ops.messages import DeadMessage
from offpath.ops.status import QueueCounts
from offpath.store import Job, JobStatus

# A local table is small; past this many items the list is of a sample (and says so).
SCAN_LIMIT = 1000
DLQ_LIMIT = 100
# Statuses whose message is still in the pool's queue (visible, in flight or delayed).
IN_QUEUE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED})

T = TypeVar("T")


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1] if url else ""


@dataclass(frozen=True)
class PoolResources:
    """One pool as provisioned locally: its queue, dead-letter queue and worker function."""

    name: str
    queue_url: str
    dlq_url: str  # "" when the queue has no redrive target
    function: str  # the worker's logical id ("" when unknown)

    @property
    def queue_name(self) -> str:
        return _queue_name(self.queue_url)

    @property
    def dlq_name(self) -> str:
        return _queue_name(self.dlq_url)


@dataclass(frozen=True)
class JobsResources:
    """The default pool's queue and dead-letter queue, and the job table, as provisioned
    locally (found by :mod:`offpath.location`'s rules, whatever the template calls them);
    ``pools``: every pool, the default one first."""

    queue_url: str
    dlq_url: str  # "" when the queue has no redrive target (the DLQ views are then off)
    table_name: str
    pools: tuple[PoolResources, ...] = ()

    @property
    def queue_name(self) -> str:
        return self.queue_url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def dlq_name(self) -> str:
        return self.dlq_url.rstrip("/").rsplit("/", 1)[-1] if self.dlq_url else ""

    @classmethod
    def of(cls, provisioned: Provisioned) -> JobsResources | None:
        """None for a template without offpath jobs (the jobs and DLQ views are then off)."""
        if not provisioned.has_jobs:
            return None
        location = provisioned.location
        pool = location.pool()
        pools = sorted(
            location.pools.values(), key=lambda p: (p.name != location.default_pool, p.name)
        )
        return cls(
            pool.queue_url,
            pool.dlq_url,
            location.table_name,
            tuple(PoolResources(p.name, p.queue_url, p.dlq_url, p.function) for p in pools),
        )


@dataclass(frozen=True)
class JobFilter:
    """The jobs list's filters, from the page's query string."""

    status: str = ""
    task: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> JobFilter:
        status = query.get("status", "")
        return cls(status if status in set(JobStatus) else "", query.get("task", "")[:128])

    def matches(self, job: Job) -> bool:
        return (not self.status or job.status == self.status) and (
            not self.task or job.task == self.task
        )

    def query(self) -> dict[str, str]:
        return {"status": self.status, "task": self.task}


class DeadLetterListing:
    """The DLQ's messages, peeked again only when its counts change.

    Peeking is receiving (see :mod:`offpath.ops.dlq`): each peek hides every message
    for a moment, and an ``offpath dlq redrive`` running just then would miss them.
    So a page refresh reuses the last listing until the sampled counts move, an
    action ran, or it is ``max_age_s`` old; and this dashboard's own peeks and
    actions never overlap (one lock, :attr:`lock`, which the sampler takes too, so
    that it never counts our own peek's messages as in flight).

    Example:
        >>> listing = DeadLetterListing(DeadLetters(sqs, dlq_url, store).peek)  # doctest: +SKIP
        >>> listing.messages(signature=(1, 1))  # doctest: +SKIP
    """

    def __init__(
        self,
        peek: Callable[[int], list[DeadMessage]],
        *,
        limit: int = DLQ_LIMIT,
        max_age_s: float = 15.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.peek = peek
        self.limit = limit
        self.max_age_s = max_age_s
        self.monotonic = monotonic
        self.lock = threading.Lock()
        self._cached: tuple[object, float, list[DeadMessage]] | None = None

    def messages(self, signature: object, visible: int | None = None) -> list[DeadMessage]:
        """The listing, peeked again if ``signature`` (the DLQ's sampled counts) changed,
        or if it disagrees with the sampled number of ``visible`` messages."""
        with self.lock:
            cached = self._cached
            if (
                cached is not None
                and cached[0] == signature
                and self.monotonic() - cached[1] < self.max_age_s
                and (visible is None or len(cached[2]) == min(visible, self.limit))
            ):
                return cached[2]
            listing = self.peek(self.limit)
            self._cached = (signature, self.monotonic(), listing)
            return listing

    def act(self, action: Callable[[], T]) -> T:
        """Run a redrive or a purge alone (no peek meanwhile), then forget the listing."""
        with self.lock:
            try:
                return action()
            finally:
                self._cached = None


def oldest_in_queue(jobs: Iterable[Job], dead_job_ids: set[str], now: datetime) -> float | None:
    """Seconds since the oldest durable job still in its queue was enqueued.

    SQS has no attribute for its oldest message, and receiving one to look counts
    toward ``maxReceiveCount``; but a durable job's message lives from its record's
    creation until the job finishes or is dead-lettered, so the oldest unfinished
    record not in the DLQ dates it. Fire-and-forget messages keep no record.
    """
    waiting = [
        job.created_at for job in jobs if job.status in IN_QUEUE and job.job_id not in dead_job_ids
    ]
    return (now - min(waiting)).total_seconds() if waiting else None


def oldest_dead_letter(messages: Iterable[DeadMessage], now: datetime) -> float | None:
    """Seconds since the oldest message of the listing was dead-lettered."""
    moments = [m.failed_at or m.enqueued_at for m in messages]
    known = [moment for moment in moments if moment is not None]
    return (now - min(known)).total_seconds() if known else None


@dataclass(frozen=True)
class ScheduleRow:
    name: str
    kind: str
    expression: str
    timezone: str | None
    task: str | None
    function: str
    enabled: bool
    upcoming: list[datetime]
    last_fired: datetime | None


def schedule_rows(
    schedules: Mapping[str, LocalSchedule], now: datetime, count: int = 3
) -> list[ScheduleRow]:
    """Each template schedule with its next ``count`` fire times after ``now``."""
    return [
        ScheduleRow(
            name=name,
            kind=schedule.spec.kind,
            expression=schedule.spec.expression,
            timezone=schedule.spec.timezone,
            task=_task_of(schedule.spec.input),
            function=schedule.spec.function,
            enabled=schedule.spec.enabled,
            upcoming=schedule.next_after(now, count) if schedule.spec.enabled else [],
            last_fired=max(schedule.fired, default=None),
        )
        for name, schedule in sorted(schedules.items())
    ]


def _task_of(raw_input: str | None) -> str | None:
    if not raw_input:
        return None
    try:
        decoded = json.loads(raw_input)
    except ValueError:
        return None
    task = decoded.get("task") if isinstance(decoded, dict) else None
    return task if isinstance(task, str) else None


@dataclass(frozen=True)
class FunctionSummary:
    function: str
    invocations: int
    cold: int
    errors: int
    records_in: int
    failures_out: int
    median_ms: float
    max_ms: float


def summarize(invocations: Iterable[Invocation]) -> list[FunctionSummary]:
    """Per function: invocations, cold starts, errors, records, and durations."""
    by_function: dict[str, list[Invocation]] = defaultdict(list)
    for invocation in invocations:
        by_function[invocation.function].append(invocation)
    return [
        FunctionSummary(
            function=name,
            invocations=len(runs),
            cold=sum(run.cold for run in runs),
            errors=sum(not run.ok for run in runs),
            records_in=sum(run.records_in for run in runs),
            failures_out=sum(run.failures_out for run in runs),
            median_ms=statistics.median(run.duration_ms for run in runs),
            max_ms=max(run.duration_ms for run in runs),
        )
        for name, runs in sorted(by_function.items())
    ]


@dataclass(frozen=True)
class PoolRow:
    """One pool on the overview: its queue's and DLQ's latest counts, its worker's runs."""

    pool: PoolResources
    queue: QueueCounts | None  # None: not sampled yet
    dlq: QueueCounts | None  # None: no DLQ, or not sampled yet
    invocations: int
    errors: int


def pool_rows(
    pools: Iterable[PoolResources],
    latest: Callable[[str], QueueCounts | None],
    summaries: Sequence[FunctionSummary],
) -> list[PoolRow]:
    """Each pool with its queues' counts (``latest``, by queue name) and the invocations
    of its worker function (from :func:`summarize`)."""
    by_function = {s.function: s for s in summaries}
    rows = []
    for pool in pools:
        summary = by_function.get(pool.function) if pool.function else None
        rows.append(
            PoolRow(
                pool,
                latest(pool.queue_name),
                latest(pool.dlq_name) if pool.dlq_url else None,
                summary.invocations if summary else 0,
                summary.errors if summary else 0,
            )
        )
    return rows
