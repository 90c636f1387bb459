"""Billed GB-seconds per IO-bound async job: a batch of 10 run together vs one at a time.

The same worker, the same ten jobs (each awaits ``wait_s`` of simulated IO), the AWS
side stubbed (:mod:`bench.stubs`): once with ``OFFPATH_ASYNC_CONCURRENCY`` at the
template's value (the batch's async jobs together on one event loop), once at 1 (one
after another, as before). The invocation's wall time is what Lambda bills, rounded
up to the millisecond, times WorkerFunction's MemorySize from template.yaml.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger

from bench.pricing import billed_ms
from bench.report import Figure, Section
from bench.stack import TEMPLATE
from bench.stubs import InMemoryJobStore, StubSqs
from bench.worker_cpu import QUEUE_ARN, BenchContext, CountingSink
from offpath.deadletters import DeadLetterQueue
from offpath.envelope import Envelope
from offpath.local.topology import read_topology
from offpath.tasks import TaskRegistry
from offpath.worker import Worker

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10
tasks = TaskRegistry()


@tasks.task(max_attempts=3, timeout_s=30)
async def wait_on_io(wait_s: float) -> None:
    """An IO-bound job: its time is an await (a partner API, a database)."""
    await asyncio.sleep(wait_s)


def batch_event(wait_s: float) -> dict[str, Any]:
    records = []
    for n in range(BATCH):
        body = Envelope.new(
            "wait_on_io", {"wait_s": wait_s}, enqueued_at=datetime.now(UTC)
        ).to_body()
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"handle-{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSourceARN": QUEUE_ARN,
            }
        )
    return {"Records": records}


# One Logger for every worker here: a second Powertools Logger of the same service
# and handler comes without its formatter.
LOGGER = Logger(
    service="bench-async", level="WARNING", logger_handler=logging.StreamHandler(CountingSink())
)


def worker(concurrency: int) -> Worker:
    sqs = cast("SQSClient", StubSqs())
    return Worker(
        registry=tasks,
        store=InMemoryJobStore(),
        sqs=sqs,
        dead_letters=DeadLetterQueue(sqs, "stub-dlq"),
        logger=LOGGER,
        async_concurrency=concurrency,
    )


def invocation_ms(concurrency: int, wait_s: float) -> float:
    """Wall time of one invocation of a batch of ten such jobs."""
    event = batch_event(wait_s)
    started = time.perf_counter()
    response = worker(concurrency).handle(event, BenchContext())
    elapsed = (time.perf_counter() - started) * 1000
    assert not response["batchItemFailures"], response
    return elapsed


def run(rounds: int = 3, wait_s: float = 0.2) -> Section:
    started = time.perf_counter()
    spec = read_topology(TEMPLATE).functions["WorkerFunction"]
    memory_gb = spec.memory_mb / 1024
    limit = int(spec.environment.get("OFFPATH_ASYNC_CONCURRENCY", "1"))
    together: list[float] = []
    alone: list[float] = []
    for _ in range(rounds):  # interleaved, so drift hits both alike
        together.append(invocation_ms(limit, wait_s))
        alone.append(invocation_ms(1, wait_s))

    def gb_s_per_job(samples: list[float]) -> float:
        return billed_ms(statistics.median(samples)) / 1000 * memory_gb / BATCH

    value, base = gb_s_per_job(together), gb_s_per_job(alone)
    return Section(
        title="6. Async jobs of a batch run together",
        baseline=f"the same batch of {BATCH} with OFFPATH_ASYNC_CONCURRENCY=1 (one at a time)",
        figures=[
            Figure(
                f"billed GB-s per IO-bound async job (batch of {BATCH}, limit {limit})",
                value * 1000,
                base * 1000,
                "mGB-s/job",
                digits=3,
            )
        ],
        details=[
            f"  together: {', '.join(f'{s:.0f}' for s in together)} ms per invocation",
            f"  one at a time: {', '.join(f'{s:.0f}' for s in alone)} ms per invocation",
        ],
        notes=[
            f"each job awaits {wait_s:g} s of simulated IO; WorkerFunction's "
            f"{spec.memory_mb} MB; wall time of Worker.handle, median of {rounds} rounds",
            "the AWS side is bench.stubs (no network): the figure is the waiting that "
            "running together saves, not the calls",
        ],
        seconds=time.perf_counter() - started,
        data={"together_ms": together, "alone_ms": alone, "memory_mb": spec.memory_mb},
    )
