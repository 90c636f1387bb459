"""AWS requests and DynamoDB writes per job, counted by the emulator, turned into dollars.

Jobs go through the whole local stack (producer -> SQS -> event source mapping ->
WorkerFunction's process -> DynamoDB) with ``background=False``: the benchmark
drains the queue itself and moves the clock for the retry, so every run makes
exactly the same calls. The counts are moto server's own meter
(:meth:`MotoServer.calls`): every request the user would be billed for.

Each scenario runs alone (one job per batch: the worst case) and ten at a time
(the template's BatchSize: receives, deletes and invocations are shared by ten).
A delayed job (an hour away: EventBridge Scheduler, not SQS DelaySeconds) is
fired by the emulator as Scheduler would; the calls Scheduler makes inside AWS to
find and delete its schedules are taken out, its delivery (a SendMessage) is not.
The per-job counts also go to the JSON output (``Section.data``): the capacity
model (:mod:`bench.capacity`) reads them from there.
The comparison runs the same job with Powertools idempotency layered on top of
offpath's job record (:mod:`bench.tasks`), and checks the extra calls against the
ones that design should make.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import functions.shared.tasks as example_tasks

import bench.tasks as bench_tasks
from bench.pricing import PRICES_TEXT, PerJob, billed_ms, item_bytes, write_units
from bench.report import Figure, Section
from bench.stack import producer_for, running_emulator
from offpath.local.emulator import Emulator
from offpath.local.metering import DYNAMODB_WRITES
from offpath.producer import JobRequest, Producer, request

BATCH = 10  # the template's WorkerBatchSize
WORKER = "WorkerFunction"  # the default pool's worker, which runs the bench tasks
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem"})
DELAY_S = 3600  # past SQS's 15 minutes: the job goes through EventBridge Scheduler
# What the emulator calls to play Scheduler's part (find due one-offs, delete them
# after delivery: ActionAfterCompletion DELETE): inside AWS, not billed to the user.
SCHEDULER_MACHINERY = (
    "scheduler:ListSchedules",
    "scheduler:GetSchedule",
    "scheduler:DeleteSchedule",
)

# What layering Powertools idempotency over the job record adds per job, on top of
# offpath's own calls: a conditional put of the INPROGRESS record, then an update to
# COMPLETED; a failed attempt deletes its record instead, so its retry puts again.
# (A duplicate delivery adds a conditional put whose failure still costs a write;
# Powertools 3 reads the old record from that failure instead of a GetItem.)
LAYERED_EXTRA = {
    "durable": Counter({"dynamodb:PutItem": 1, "dynamodb:UpdateItem": 1}),
    "retry": Counter({"dynamodb:PutItem": 2, "dynamodb:DeleteItem": 1, "dynamodb:UpdateItem": 1}),
}


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    make: Callable[[str], JobRequest]  # a unique token -> the job
    retry: bool = False
    delay_s: int = 0  # the emulator's clock is moved past it, and its schedules fired


def _fire_and_forget(token: str) -> JobRequest:
    return request(example_tasks.send_welcome_email, f"{token}@example.com")


def _job(
    fail_first: bool = False, layered: bool = False, delay_s: int = 0
) -> Callable[[str], JobRequest]:
    def make(token: str) -> JobRequest:
        job = request(bench_tasks.bench_job, token, fail_first=fail_first, layered=layered)
        return dataclasses.replace(job, delay_s=delay_s) if delay_s else job

    return make


SCENARIOS = (
    Scenario("fire_and_forget", "fire-and-forget job", _fire_and_forget),
    Scenario("durable", "durable job, succeeds", _job()),
    Scenario("retry", "durable job, succeeds after 1 retry", _job(fail_first=True), retry=True),
    Scenario(
        "delayed",
        "durable job delayed 1 h (Scheduler), succeeds",
        _job(delay_s=DELAY_S),
        delay_s=DELAY_S,
    ),
)
LAYERED = {
    "durable": Scenario("durable", "layered: durable, succeeds", _job(layered=True)),
    "retry": Scenario(
        "retry", "layered: succeeds after 1 retry", _job(fail_first=True, layered=True), True
    ),
}


@dataclass
class Run:
    """One measured run of ``jobs`` jobs of a scenario."""

    jobs: int
    calls: Counter[str]  # billed requests; the drain's own empty receives taken out
    empty_receives: int
    invocations: int
    billed_ms: int
    scheduler_invocations: int = 0  # one-off schedules delivered (billed per invocation)

    def per_job(self, write_units_per_write: int) -> PerJob:
        sqs = sum(n for op, n in self.calls.items() if op.startswith("sqs:"))
        writes = sum(n for op, n in self.calls.items() if _op(op) in DYNAMODB_WRITES)
        reads = sum(n for op, n in self.calls.items() if _op(op) in DYNAMODB_READS)
        return PerJob(
            sqs_requests=sqs / self.jobs,
            dynamodb_write_units=writes * write_units_per_write / self.jobs,
            dynamodb_read_units=reads / self.jobs,
            lambda_invocations=self.invocations / self.jobs,
            lambda_billed_ms=self.billed_ms / self.jobs,
        )


def _op(key: str) -> str:
    return key.split(":", 1)[1]


def run_scenario(emulator: Emulator, producer: Producer, scenario: Scenario, jobs: int) -> Run:
    """Enqueue ``jobs`` jobs at once, drain (and retry), and count what was billed."""
    assert emulator.server is not None
    emulator.server.reset_calls()
    emulator.invocations.clear()
    producer.enqueue_many([scenario.make(uuid.uuid4().hex) for _ in range(jobs)])
    fired = 0
    if scenario.delay_s:
        # Moving the clock an hour would also fire the template's recurring schedules
        # at some hours of the day: they are not this job's calls, so they are left out.
        assert emulator.firing is not None
        emulator.firing.schedules.clear()
        emulator.advance(scenario.delay_s + 1)
        fired = len(emulator.fire_due())
    # The default pool's worker only: another pool's polls of its empty queue are not
    # this job's calls (bench tasks run in the default pool).
    results = emulator.drain(functions=[WORKER])
    drains = 1
    if scenario.retry:
        emulator.advance(bench_tasks.RETRY_AFTER_S + 1)
        results += emulator.drain(functions=[WORKER])
        drains += 1
    calls = Counter(emulator.server.calls())
    for op in SCHEDULER_MACHINERY:
        calls.pop(op, None)
    if fired != (jobs if scenario.delay_s else 0):
        raise RuntimeError(f"{scenario.title}: {fired} one-off schedules fired, not {jobs}")
    batches = sum(1 for r in results if r.received)
    if sum(r.deleted for r in results) != jobs or any(r.error for r in results):
        raise RuntimeError(f"{scenario.title}: not every job finished: {results}")
    # Each drain ends with one receive that finds nothing: that is polling, not the job.
    empty = calls["sqs:ReceiveMessage"] - batches
    if empty != drains:
        raise RuntimeError(f"{scenario.title}: {empty} empty receives, expected {drains}")
    calls["sqs:ReceiveMessage"] = batches
    worker = [i for i in emulator.invocations if i.function == WORKER]
    return Run(
        jobs=jobs,
        calls=calls,
        empty_receives=empty,
        invocations=len(worker),
        billed_ms=sum(billed_ms(i.duration_ms) for i in worker),
        scheduler_invocations=fired,
    )


@dataclass
class Measured:
    """Runs of one scenario at one batch size: the same calls each time, durations vary."""

    runs: list[Run]

    @property
    def calls(self) -> Counter[str]:
        first = self.runs[0].calls
        if any(r.calls != first for r in self.runs):
            raise RuntimeError(f"call counts varied between runs: {[r.calls for r in self.runs]}")
        return first

    def per_job(self, units: int) -> PerJob:
        base = self.runs[0].per_job(units)
        billed = statistics.median(r.billed_ms / r.jobs for r in self.runs)
        return PerJob(
            base.sqs_requests,
            base.dynamodb_write_units,
            base.dynamodb_read_units,
            base.lambda_invocations,
            billed,
        )


def measure_all(emulator: Emulator, repeats: int) -> dict[tuple[str, str, int], Measured]:
    """``(design, scenario, jobs per batch)`` -> its runs."""
    producer = producer_for(emulator)
    plan = [("offpath", s) for s in SCENARIOS] + [("layered", s) for s in LAYERED.values()]
    for _, scenario in plan:  # warm-up: the first invocation is cold, and not counted
        run_scenario(emulator, producer, scenario, 1)
    measured: dict[tuple[str, str, int], Measured] = {}
    for jobs in (1, BATCH):
        for _ in range(repeats):
            for design, scenario in plan:
                key = (design, scenario.key, jobs)
                run = run_scenario(emulator, producer, scenario, jobs)
                measured.setdefault(key, Measured([])).runs.append(run)
    return measured


def largest_item_bytes(emulator: Emulator) -> int:
    """The largest item in JobsTable (job records and idempotency records alike)."""
    assert emulator.clients is not None and emulator.provisioned is not None
    pages = emulator.clients.dynamodb.get_paginator("scan").paginate(
        TableName=emulator.provisioned.table_name()
    )
    sizes: list[int] = [0]
    for page in pages:
        sizes += [item_bytes(dict(item)) for item in page.get("Items", [])]  # type: ignore[arg-type]
    return max(sizes)


def run(repeats: int = 3) -> Section:
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_emulator(background=False, outbox=Path(scratch) / "outbox.jsonl") as emulator,
    ):
        measured = measure_all(emulator, repeats)
        largest = largest_item_bytes(emulator)
        assert emulator.provisioned is not None
        memory_mb = emulator.provisioned.topology.functions["WorkerFunction"].memory_mb
    units = write_units(largest)
    section = Section(
        title="2. AWS requests, DynamoDB writes and cost per job",
        baseline="the same job with Powertools idempotency layered on top of offpath's job "
        "record (bench.tasks.bench_job layered=True), measured the same way",
    )
    for scenario in SCENARIOS:
        for jobs in (1, BATCH):
            _add_rows(section, measured, scenario, jobs, units, memory_mb)
    section.notes += _notes(measured, largest, units, memory_mb, repeats)
    section.data = per_job_data(measured, largest, units, memory_mb)
    section.seconds = time.perf_counter() - started
    return section


def per_job_data(
    measured: dict[tuple[str, str, int], Measured], largest: int, units: int, memory_mb: int
) -> dict[str, Any]:
    """What the capacity model reads: each kind of job's calls per job, by batch size."""
    kinds: dict[str, dict[str, Any]] = {}
    for (design, key, jobs), m in sorted(measured.items()):
        if design != "offpath":
            continue
        run = m.runs[0]
        kinds.setdefault(key, {})[str(jobs)] = {
            "calls": {op: n / jobs for op, n in sorted(m.calls.items())},
            "lambda_invocations": run.invocations / jobs,
            "lambda_billed_ms": m.per_job(units).lambda_billed_ms,
            "scheduler_invocations": run.scheduler_invocations / jobs,
        }
    return {
        "kind": "per_job_calls",
        "batch_sizes": sorted({jobs for _, _, jobs in measured}),
        "worker_memory_mb": memory_mb,
        "largest_item_bytes": largest,
        "write_units_per_write": units,
        "kinds": kinds,
    }


def _add_rows(
    section: Section,
    measured: dict[tuple[str, str, int], Measured],
    scenario: Scenario,
    jobs: int,
    units: int,
    memory_mb: int,
) -> None:
    ours = measured[("offpath", scenario.key, jobs)]
    theirs = measured.get(("layered", scenario.key, jobs))
    label = f"{scenario.title}, {'alone' if jobs == 1 else f'{jobs} per batch'}"
    mine, other = ours.per_job(units), theirs.per_job(units) if theirs else None
    requests = _requests(ours.calls) / jobs
    section.figures += [
        Figure(
            f"{label}: AWS requests/job",
            requests,
            _requests(theirs.calls) / jobs if theirs else None,
            "requests",
        ),
        Figure(
            f"{label}: DynamoDB writes/job",
            mine.dynamodb_write_units / units,
            other.dynamodb_write_units / units if other else None,
            "writes",
        ),
        Figure(
            f"{label}: $ per million jobs",
            mine.dollars_per_million(memory_mb)["total"],
            other.dollars_per_million(memory_mb)["total"] if other else None,
            "USD",
            2,
        ),
    ]
    section.details.append(f"  {label}:")
    for design, m in (("offpath", ours), ("layered", theirs)):
        if m is None:
            continue
        per_job = m.per_job(units)
        parts = per_job.dollars_per_million(memory_mb)
        ops = ", ".join(f"{op} {n / jobs:g}" for op, n in sorted(m.calls.items()))
        section.details.append(f"    {design:8} per job: {ops}")
        section.details.append(
            f"    {'':8} {per_job.lambda_invocations:g} invocations, "
            f"{per_job.lambda_billed_ms:.1f} billed ms/job -> $/M jobs: "
            + ", ".join(f"{k} {v:.3f}" for k, v in parts.items())
        )


def _requests(calls: Counter[str]) -> int:
    return sum(calls.values())


def _notes(
    measured: dict[tuple[str, str, int], Measured],
    largest: int,
    units: int,
    memory_mb: int,
    repeats: int,
) -> list[str]:
    checks = []
    for key, extra in LAYERED_EXTRA.items():
        for jobs in (1, BATCH):
            got = measured[("layered", key, jobs)].calls - measured[("offpath", key, jobs)].calls
            want = Counter({op: n * jobs for op, n in extra.items()})
            verdict = "as computed" if got == want else f"NOT as computed ({dict(want)})"
            checks.append(f"{key} x{jobs}: +{dict(got)} {verdict}")
    return [
        PRICES_TEXT,
        f"Lambda duration: the emulator's warm WorkerFunction invocations (median of {repeats} "
        f"runs, moto as the AWS endpoint) x MemorySize {memory_mb} MB; each invocation "
        "rounded up to 1 ms",
        f"largest JobsTable item: {largest} bytes -> {units} write unit(s) per write",
        "layered design's extra calls over offpath, per run: " + "; ".join(checks),
        "not per job, billed anyway: the event source mapping's empty ReceiveMessage polls "
        "(long polls of up to 20 s by each of its pollers, about 5 when idle: roughly 650k "
        "requests, $0.26, a month for an idle queue, whatever the job count)",
        "not counted: API Gateway and ApiFunction's invocation for the HTTP request that "
        "enqueues (the app serves it anyway), CloudWatch Logs ingestion of the worker's logs "
        "and metrics (see section 3), X-Ray traces, and status polls (GetItem, 1 read unit "
        "each)",
        "a retried job in a batch of 10 pays one ChangeMessageVisibility per job: "
        "ChangeMessageVisibilityBatch would share it",
    ]
