"""How far one offpath stack goes on AWS, and what it costs: a model over measured calls.

    .venv/bin/python -m bench --only costs --json bench/results/costs.json   # measure
    .venv/bin/python -m bench.capacity bench/results/costs.json --write docs/capacity.md
    .venv/bin/python -m bench.capacity bench/results/costs.json --job-s 1 --batch 5

The per-job calls are not written here: they are read from the cost benchmark's JSON
(``bench/costs.py`` puts them in its section's ``data``), measured for each kind of
job alone and ten per batch. A batch of ``b`` shares what is measured as shared
(receive, delete, send batch, invocation): per job, ``fixed + shared / b`` with the
two measured points giving ``fixed`` and ``shared`` (SQS's batches stop at 10).

The quotas and scaling rules are AWS's published defaults (us-east-1, as of
:data:`QUOTAS_AS_OF`, not re-checked online): each is a row of :data:`LIMITS` with
the knob that moves it. Prices are :mod:`bench.pricing`'s list prices.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import pricing

RATES = (10, 100, 1_000, 10_000)
KINDS = {
    "durable": "durable",
    "fire_and_forget": "fire-and-forget",
    "retry": "retried once",
    "delayed": "delayed 1 h (Scheduler)",
}
HOURS_PER_MONTH = 730
QUOTAS_AS_OF = "2026-12-02"
# Lambda's SQS event source: standard mode starts at 5 concurrent batches and adds up
# to 300 a minute, to 1,250; provisioned mode scales 3x as fast, to 20,000.
ESM_START = 5
ESM_RAMP_PER_MIN = 300
ESM_DEFAULT_MAX = 1_250
ESM_PROVISIONED_MAX = 20_000
ESM_PROVISIONED_RAMP_PER_MIN = 3 * ESM_RAMP_PER_MIN
SQS_BATCH_MAX = 10  # SendMessageBatch, ReceiveMessage and DeleteMessageBatch entries


@dataclass(frozen=True)
class Assumptions:
    """What the model is asked about: the workload and the template's settings."""

    job_s: float = 0.1  # the task's own run time, per attempt
    batch: int = 10  # WorkerBatchSize
    window_s: float = 1.0  # WorkerBatchingWindowSeconds
    max_concurrency: int = 5  # WorkerMaxConcurrency (standard mode)
    retry_wait_s: float = 2.0  # a failed job's first backoff (Backoff's default base_s)
    delay_s: float = 3600.0  # how far away a delayed job is (measured: 1 h)


@dataclass(frozen=True)
class PerJob:
    """One kind of job's billed units per job, at a batch size."""

    sqs_requests: float
    write_units: float
    read_units: float
    lambda_invocations: float
    lambda_overhead_ms: float  # offpath's own billed time per job (measured)
    attempts: float  # worker invocations of one job, alone: 1, or 2 when retried once
    scheduler_creates: float
    scheduler_invocations: float

    def lambda_ms(self, job_s: float) -> float:
        return self.lambda_overhead_ms + self.attempts * job_s * 1000

    def dollars(self, job_s: float, memory_mb: int) -> float:
        gb_s = self.lambda_ms(job_s) / 1000 * memory_mb / 1024
        return (
            self.sqs_requests * pricing.SQS_PER_REQUEST
            + self.write_units * pricing.DYNAMODB_PER_WRITE_UNIT
            + self.read_units * pricing.DYNAMODB_PER_READ_UNIT
            + self.lambda_invocations * pricing.LAMBDA_PER_REQUEST
            + gb_s * pricing.LAMBDA_PER_GB_S
            + self.scheduler_invocations * pricing.SCHEDULER_PER_INVOCATION
        )


@dataclass(frozen=True)
class Measured:
    """The cost benchmark's per-job calls, as its JSON has them."""

    kinds: dict[str, dict[int, dict[str, Any]]]
    write_units_per_write: int
    memory_mb: int
    run: str
    largest_item_bytes: int

    def calls(self, kind: str, batch: int) -> dict[str, float]:
        return dict(self.kinds[kind][batch]["calls"])

    def per_job(self, kind: str, batch: int) -> PerJob:
        """Per-job units at any batch size, from the two measured ones (1 and 10)."""
        one, ten = self.kinds[kind][1], self.kinds[kind][10]

        def at(value: Callable[[dict[str, Any]], float], shared_up_to: int | None) -> float:
            a, b = value(one), value(ten)
            shared = (a - b) * 10 / 9  # a = fixed + shared, b = fixed + shared / 10
            size = batch if shared_up_to is None else min(batch, shared_up_to)
            return (a - shared) + shared / size

        units = self.write_units_per_write
        return PerJob(
            sqs_requests=at(lambda m: _service(m, "sqs"), SQS_BATCH_MAX),
            write_units=at(lambda m: _writes(m) * units, None),
            read_units=at(_reads, None),
            lambda_invocations=at(lambda m: float(m["lambda_invocations"]), None),
            lambda_overhead_ms=float(ten["lambda_billed_ms"]),
            attempts=float(one["lambda_invocations"]),
            scheduler_creates=float(ten["calls"].get("scheduler:CreateSchedule", 0)),
            scheduler_invocations=float(ten["scheduler_invocations"]),
        )


def predict(measured: Measured, mix: dict[str, int], batch: int = 10) -> Prediction:
    """The calls and invocations ``mix`` (kind -> jobs, each kind in full batches of
    ``batch``, one of the measured sizes) makes: the model's counts, to be checked
    exactly against what an emulator counts."""
    calls: dict[str, float] = {}
    invocations = scheduled = 0.0
    for kind, jobs in mix.items():
        if jobs % batch:
            raise ValueError(f"{kind}: {jobs} jobs are not full batches of {batch}")
        figures = measured.kinds[kind][batch]
        for op, n in figures["calls"].items():
            calls[op] = calls.get(op, 0.0) + n * jobs
        invocations += figures["lambda_invocations"] * jobs
        scheduled += figures["scheduler_invocations"] * jobs
    return Prediction(
        calls={op: _whole(n) for op, n in calls.items()},
        invocations=_whole(invocations),
        scheduler_invocations=_whole(scheduled),
    )


@dataclass(frozen=True)
class Prediction:
    calls: dict[str, int]
    invocations: int
    scheduler_invocations: int


def _whole(value: float) -> int:
    """A count of calls: per-job figures are shares of whole calls, so their sum is whole."""
    whole = round(value)
    if abs(value - whole) > 1e-6:
        raise ValueError(f"{value} calls is not a whole number")
    return whole


DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
DYNAMODB_READS = ("GetItem", "Query", "Scan", "BatchGetItem")


def _service(measured: dict[str, Any], service: str) -> float:
    return float(sum(n for op, n in measured["calls"].items() if op.startswith(f"{service}:")))


def _writes(measured: dict[str, Any]) -> float:
    return float(sum(measured["calls"].get(f"dynamodb:{op}", 0) for op in DYNAMODB_WRITES))


def _reads(measured: dict[str, Any]) -> float:
    return float(sum(measured["calls"].get(f"dynamodb:{op}", 0) for op in DYNAMODB_READS))


def load(path: Path) -> Measured:
    """The per-job calls in a ``python -m bench --json`` file.

    Raises:
        ValueError: no section of the file carries them (run the ``costs`` section).
    """
    data = json.loads(path.read_text())
    for section in data.get("sections", []):
        found = section.get("data", {})
        if found.get("kind") == "per_job_calls":
            kinds = {
                kind: {int(size): figures for size, figures in sizes.items()}
                for kind, sizes in found["kinds"].items()
            }
            return Measured(
                kinds,
                found["write_units_per_write"],
                found["worker_memory_mb"],
                data["run"],
                found["largest_item_bytes"],
            )
    raise ValueError(f"{path}: no per-job calls in it (python -m bench --only costs --json ...)")


@dataclass(frozen=True)
class Load:
    """What a steady rate of one kind of job asks of AWS, per second."""

    rate: float
    sqs_requests_s: float
    write_units_s: float
    concurrency: float  # Lambda concurrent executions (Little's law)
    in_flight: float  # SQS messages received and not yet deleted
    scheduler_creates_s: float
    scheduler_invocations_s: float
    pending_schedules: float
    dollars_per_hour: float
    http_requests_s: float  # if each job is enqueued by its own HTTP request

    @property
    def dollars_per_month(self) -> float:
        return self.dollars_per_hour * HOURS_PER_MONTH


def load_at(per_job: PerJob, rate: float, a: Assumptions, memory_mb: int) -> Load:
    busy_s = per_job.lambda_ms(a.job_s) / 1000  # worker time per job, every attempt
    retried = per_job.attempts - 1
    return Load(
        rate=rate,
        sqs_requests_s=rate * per_job.sqs_requests,
        write_units_s=rate * per_job.write_units,
        concurrency=rate * busy_s,
        # Received in the batching window, held while the batch runs; a failed job's
        # message stays in flight (invisible) through its backoff.
        in_flight=rate * (min(a.window_s, a.batch / rate) + a.batch * busy_s)
        + rate * retried * a.retry_wait_s,
        scheduler_creates_s=rate * per_job.scheduler_creates,
        scheduler_invocations_s=rate * per_job.scheduler_invocations,
        pending_schedules=rate * per_job.scheduler_creates * a.delay_s,
        dollars_per_hour=rate * 3600 * per_job.dollars(a.job_s, memory_mb),
        http_requests_s=rate,
    )


@dataclass(frozen=True)
class Limit:
    """An AWS quota or scaling limit, what uses it up, and the knob that moves it."""

    name: str
    limit: float
    demand: Callable[[Load, Assumptions], float]
    knob: str


MAXIMUM_CONCURRENCY_MAX = 1_000  # ScalingConfig.MaximumConcurrency's ceiling

LIMITS = (
    Limit(
        "Lambda concurrent executions per account and Region (1,000)",
        1_000,
        lambda load, a: load.concurrency,
        "a Service Quotas increase (tens of thousands); WorkerReservedConcurrency keeps the "
        "API's share",
    ),
    Limit(
        "SQS event source, standard mode (1,250 concurrent invocations)",
        ESM_DEFAULT_MAX,
        lambda load, a: load.concurrency,
        "provisioned mode: WorkerMinimumPollers / WorkerMaximumPollers (to 20,000)",
    ),
    Limit(
        "SQS event source, provisioned mode (20,000 concurrent invocations)",
        ESM_PROVISIONED_MAX,
        lambda load, a: load.concurrency,
        "more queues (pools), each with its own event source",
    ),
    Limit(
        "SQS in-flight messages per standard queue (120,000)",
        120_000,
        lambda load, a: load.in_flight,
        "a shorter job or backoff; more queues (pools)",
    ),
    Limit(
        "DynamoDB on-demand: a new table's instant throughput (4,000 WRU/s)",
        4_000,
        lambda load, a: load.write_units_s,
        "ramp over 30 min (on-demand doubles its previous peak), or pre-warm the table "
        "(WarmThroughput, not in the template)",
    ),
    Limit(
        "DynamoDB on-demand: table write throughput (40,000 WRU/s)",
        40_000,
        lambda load, a: load.write_units_s,
        "a Service Quotas increase; JobsTableMaxWriteUnits caps it lower on purpose",
    ),
    Limit(
        "EventBridge Scheduler CreateSchedule (5,000/s)",
        5_000,
        lambda load, a: load.scheduler_creates_s,
        "a Service Quotas increase; delays up to 15 min go through SQS DelaySeconds instead",
    ),
    Limit(
        "EventBridge Scheduler invocations (1,000/s)",
        1_000,
        lambda load, a: load.scheduler_invocations_s,
        "a Service Quotas increase; spread due times (one-offs due the same second fire together)",
    ),
    Limit(
        "EventBridge Scheduler schedules per Region (10,000,000)",
        10_000_000,
        lambda load, a: load.pending_schedules,
        "a Service Quotas increase; shorter delays",
    ),
    Limit(
        "HTTP API requests per account and Region (10,000/s), one job per request",
        10_000,
        lambda load, a: load.http_requests_s,
        "a Service Quotas increase; enqueue_many in the app (one call per 10 jobs)",
    ),
)


@dataclass(frozen=True)
class Use:
    limit: Limit
    demand: float
    ceiling: float

    @property
    def ratio(self) -> float:
        return self.demand / self.ceiling


def uses(load: Load, a: Assumptions) -> list[Use]:
    """Every limit's use at this load, the most used first (ties keep LIMITS' order)."""
    found = [Use(lim, lim.demand(load, a), lim.limit) for lim in LIMITS]
    return sorted(found, key=lambda u: -u.ratio)


def first_limit(load: Load, a: Assumptions) -> str:
    top = uses(load, a)[0]
    if top.ratio >= 1:
        times = f"{top.ratio:.2f}" if top.ratio < 10 else f"{top.ratio:.0f}"
        return f"**{top.limit.name}** ({times}x); knob: {top.limit.knob}"
    return f"none; nearest: {top.limit.name} at {top.ratio:.0%}"


def worker_setting(load: Load, a: Assumptions) -> str:
    """The template's own bound on the worker (not an AWS quota): what it must be set to."""
    needed = math.ceil(load.concurrency)
    if needed <= a.max_concurrency:
        return f"as deployed ({a.max_concurrency})"
    if needed <= MAXIMUM_CONCURRENCY_MAX:
        return f"WorkerMaxConcurrency >= {needed}"
    return "provisioned mode (WorkerMaximumPollers): MaximumConcurrency stops at 1,000"


def ramp_minutes(concurrency: float, provisioned: bool) -> float | None:
    """Minutes for the event source to scale from idle to ``concurrency``; None: never."""
    ceiling = ESM_PROVISIONED_MAX if provisioned else ESM_DEFAULT_MAX
    if concurrency > ceiling:
        return None
    per_min = ESM_PROVISIONED_RAMP_PER_MIN if provisioned else ESM_RAMP_PER_MIN
    return max(0.0, (concurrency - ESM_START) / per_min)


# ------------------------------------------------------------------ the document
def _n(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


def _ramp(minutes: float | None) -> str:
    return "never" if minutes is None else f"{minutes:.1f} min"


def render(measured: Measured, a: Assumptions) -> str:
    """docs/capacity.md, every figure computed from ``measured`` and ``a``."""
    mem = measured.memory_mb
    lines = [
        "# Capacity: how far one stack goes on AWS, and what it costs",
        "",
        "<!-- Generated by `python -m bench.capacity bench/results/costs.json --write "
        "docs/capacity.md` from the cost benchmark's JSON; do not edit by hand "
        "(tests/bench/test_capacity.py checks it matches). -->",
        "",
        "A model, not a measurement of AWS: the per-job calls are the ones the emulator "
        "counted (`python -m bench --only costs`, run: " + measured.run + "); the rates, "
        "concurrency, cost and limits are arithmetic over them, with AWS's published "
        f"default quotas (us-east-1, as of {QUOTAS_AS_OF}, not re-checked online) and "
        f"list prices ({pricing.PRICES_AS_OF}). Check both before deploying for real.",
        "",
        "The counts are checked: `tests/bench/test_model_matches_emulator.py` runs 200 jobs "
        "of the four kinds through `offpath dev` on MiniStack and asserts that its meter "
        "counted exactly the calls and invocations `bench.capacity.predict` computes from "
        "this run (measured on moto).",
        "",
        "## Assumptions",
        "",
        f"- Job duration **{a.job_s:g} s** per attempt (the task's own time), on top of "
        "offpath's own billed time per job as measured (below). That time is the "
        "emulator's, with moto answering for AWS on a shared machine: it moves with the "
        "machine's load, and real DynamoDB and SQS calls (a few ms each) likely make it "
        "shorter; the call counts are exact.",
        f"- Batches of **{a.batch}** (WorkerBatchSize), batching window {a.window_s:g} s; "
        f"WorkerMaxConcurrency {a.max_concurrency}; Lambda memory {mem} MB (the template's).",
        "- The producer sends ten jobs per SendMessageBatch (`enqueue_many`); one job per "
        "HTTP request pays a SendMessage each (the batch-of-1 figures).",
        f"- A retried job fails once, waits {a.retry_wait_s:g} s (the default backoff's "
        f"first wait at most) and succeeds; a delayed job is {a.delay_s / 3600:g} h away, "
        "so it goes through EventBridge Scheduler (delays up to 15 min use SQS "
        "DelaySeconds and cost what a durable job costs).",
        "- Concurrency is Little's law: jobs/s x worker seconds per job (a batch's records "
        "run one after another, so the batch size does not change it).",
        "- Not counted: API Gateway and ApiFunction per enqueue request, CloudWatch Logs "
        "(about $0.24 per million jobs, docs/benchmarks.md), idle polling (~$0.26 a month),"
        " provisioned pollers' own charge, status reads.",
        "",
        "## Measured calls per job",
        "",
        f"Each DynamoDB write is {measured.write_units_per_write} write unit(s) (the largest "
        f"item measured: {measured.largest_item_bytes} bytes; a unit is 1 KB).",
        "",
        "| kind | per job, alone | per job, 10 per batch | offpath's billed ms/job (10 per "
        "batch) |",
        "|---|---|---|---:|",
    ]
    for kind, title in KINDS.items():
        cells = []
        for size in (1, 10):
            calls = measured.calls(kind, size)
            cells.append(", ".join(f"{op} {n:g}" for op, n in sorted(calls.items())))
        billed = measured.kinds[kind][10]["lambda_billed_ms"]
        lines.append(f"| {title} | {cells[0]} | {cells[1]} | {billed:.1f} |")
    lines += [
        "",
        "## Per rate, each kind of job",
        "",
        "The first AWS quota or limit hit, with the template's worker bound set as the "
        "last column says (WorkerMaxConcurrency is the template's own brake, not AWS's).",
        "",
        "| kind | jobs/s | SQS req/s | DynamoDB WRU/s | Lambda concurrency | Scheduler "
        "creates + deliveries/s | $/hour | $/month | first AWS limit hit | worker setting |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for kind, title in KINDS.items():
        per_job = measured.per_job(kind, a.batch)
        for rate in RATES:
            load = load_at(per_job, rate, a, mem)
            scheduler = load.scheduler_creates_s + load.scheduler_invocations_s
            lines.append(
                f"| {title} | {rate:,} | {_n(load.sqs_requests_s)} | {_n(load.write_units_s)}"
                f" | {_n(load.concurrency)} | {_n(scheduler)} | {load.dollars_per_hour:,.2f}"
                f" | {load.dollars_per_month:,.0f} | {first_limit(load, a)} | "
                f"{worker_setting(load, a)} |"
            )
    lines += _at_top_rate(measured, a)
    lines += _concurrency_table(measured, a)
    lines += _hot_keys()
    return "\n".join(lines) + "\n"


def _at_top_rate(measured: Measured, a: Assumptions) -> list[str]:
    rate = RATES[-1]
    load = load_at(measured.per_job("durable", a.batch), rate, a, measured.memory_mb)
    lines = [
        "",
        f"## {rate:,} durable jobs/s: every limit, most used first",
        "",
        "| limit | demand | limit | used | knob |",
        "|---|---:|---:|---:|---|",
    ]
    for use in uses(load, a):
        lines.append(
            f"| {use.limit.name} | {_n(use.demand)} | {_n(use.ceiling)} | {use.ratio:.0%} | "
            f"{use.limit.knob} |"
        )
    return lines


def _concurrency_table(measured: Measured, a: Assumptions) -> list[str]:
    lines = [
        "",
        "## Lambda concurrency by job duration (durable jobs), and the event source's ramp",
        "",
        "Standard mode starts at 5 concurrent batches and adds up to 300 a minute, to "
        "1,250; provisioned mode (WorkerMinimumPollers / WorkerMaximumPollers) scales 3x "
        "as fast, to 20,000, and cannot be combined with MaximumConcurrency.",
        "",
        "| job s | jobs/s | concurrency | ramp, standard | ramp, provisioned |",
        "|---:|---:|---:|---:|---:|",
    ]
    per_job = measured.per_job("durable", a.batch)
    for job_s in (0.1, 1.0, 10.0):
        for rate in RATES:
            c = rate * per_job.lambda_ms(job_s) / 1000
            lines.append(
                f"| {job_s:g} | {rate:,} | {_n(c)} | {_ramp(ramp_minutes(c, False))} | "
                f"{_ramp(ramp_minutes(c, True))} |"
            )
    return lines


def _hot_keys() -> list[str]:
    return [
        "",
        "## Hot keys",
        "",
        "DynamoDB serves at most 1,000 write units/s per partition, so one key can never "
        "take more. JobsTable's only key is `pk`:",
        "",
        "- **Job records** (`pk` = the job id, random: uuid4 hex): each key gets 3-5 writes "
        "over its life; writes spread over every partition. Never hot.",
        "- **Idempotency keys** map to one job id per (task, key): every repeat is a "
        "conditional PutItem on that one key (a write unit, even when refused). Hot only if "
        "a producer repeats one key more than ~1,000 times a second (a retry storm of one "
        "client): throttles that key, no other.",
        "- **Schedule tick ids** are deterministic per (schedule, tick): one job per tick, "
        "at most one tick a minute per schedule; a duplicated delivery writes the same key "
        "a second time. Never hot.",
        "- No secondary index, so no low-cardinality key (a status index would be one).",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__)
    parser.add_argument("json", type=Path, help="a python -m bench --json file with costs")
    parser.add_argument("--write", type=Path, help="write the Markdown here (else stdout)")
    defaults = Assumptions()
    parser.add_argument("--job-s", type=float, default=defaults.job_s)
    parser.add_argument("--batch", type=int, default=defaults.batch)
    parser.add_argument("--window-s", type=float, default=defaults.window_s)
    parser.add_argument("--max-concurrency", type=int, default=defaults.max_concurrency)
    args = parser.parse_args(argv)
    if args.batch < 1 or args.job_s < 0:
        parser.error("--batch must be at least 1 and --job-s not negative")
    assumptions = Assumptions(args.job_s, args.batch, args.window_s, args.max_concurrency)
    text = render(load(args.json), assumptions)
    if args.write:
        args.write.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
