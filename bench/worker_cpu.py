"""The worker runtime's own CPU per message, AWS calls stubbed, beside a bare BatchProcessor.

Every message is a durable job of a task that returns at once, so what is timed is
offpath: envelope parsing, argument validation, the claim and finish transitions
(on :class:`bench.stubs.InMemoryJobStore`), the timeout alarm, logs and metrics.
Time is ``time.process_time`` (this process's CPU, not wall time), per message,
median of several rounds interleaved with the baseline's.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from bench.pricing import CLOUDWATCH_LOGS_PER_GB
from bench.report import Figure, Section
from bench.stack import TEMPLATE
from bench.stubs import InMemoryJobStore, StubSqs
from offpath.deadletters import DeadLetterQueue
from offpath.envelope import Envelope
from offpath.local.topology import read_topology
from offpath.tasks import TaskRegistry
from offpath.worker import Worker

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:offpath-JobsQueue"
BATCH_SIZE = 10  # the template's WorkerBatchSize

Handler = Callable[[dict[str, Any], Any], Any]

tasks = TaskRegistry()


@tasks.task(max_attempts=3, timeout_s=30)
def noop(n: int) -> dict[str, int]:
    """A durable task with no work: what remains is the runtime's."""
    return {"n": n}


class BenchContext:
    """What Powertools' inject_lambda_context and the worker read from the context."""

    function_name = "WorkerFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:WorkerFunction"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_events(messages: int) -> list[dict[str, Any]]:
    """SQS events of ``BATCH_SIZE`` records, each a job with a unique messageId."""
    records = []
    for n in range(messages):
        body = Envelope.new("noop", {"n": n}, enqueued_at=datetime.now(UTC)).to_body()
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"handle-{n}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1780272000000",
                    "ApproximateFirstReceiveTimestamp": "1780272000123",
                },
                "messageAttributes": {},
                "md5OfBody": "-",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
        )
    return [{"Records": records[i : i + BATCH_SIZE]} for i in range(0, messages, BATCH_SIZE)]


class CountingSink(io.TextIOBase):
    """A text stream that keeps nothing and counts the bytes written to it."""

    def __init__(self) -> None:
        self.bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        return len(text)


@contextlib.contextmanager
def worker_function_environment() -> Iterator[None]:
    """WorkerFunction's environment from template.yaml, for the handler module's import.

    The queue URLs and table name are never called: the AWS side is stubbed.
    """
    topology = read_topology(TEMPLATE, stack_name="offpath", region="us-east-1")
    declared = topology.functions["WorkerFunction"].environment
    values = {
        **declared,
        # Unprovisioned, a queue's !Ref is its name: the settings want its URL.
        **{
            name: _queue_url(value)
            for name, value in declared.items()
            if name.endswith("_URL") and not value.startswith("http")
        },
        **(
            {"OFFPATH_POOLS": json.dumps(_pool_urls(json.loads(declared["OFFPATH_POOLS"])))}
            if "OFFPATH_POOLS" in declared
            else {}
        ),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Off Lambda there is no X-Ray daemon; the Tracer's subsegments become no-ops.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _queue_url(name: str) -> str:
    return (
        name
        if name.startswith("http")
        else f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}"
    )


def _pool_urls(pools: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {
        pool: {k: _queue_url(v) if k.endswith("_url") else v for k, v in fields.items()}
        for pool, fields in pools.items()
    }


def deployed_worker(sink: CountingSink) -> tuple[Handler, Worker]:
    """functions/worker/handler.py's own handler, its Worker's AWS side swapped for stubs.

    Everything else is the deployed wiring (Powertools decorators, logger at the
    template's INFO, the worker's metrics), so the figure follows the handler as it
    changes. Logs and EMF metrics go to ``sink``, which counts their bytes.
    """
    with worker_function_environment():
        from functions.worker import handler as module

        worker = module.worker()
    worker.registry = tasks
    _stub_aws(worker)
    module.logger.registered_handler.setStream(sink)  # type: ignore[attr-defined]
    return module.handler, worker


def core_worker() -> tuple[Handler, Worker]:
    """Worker.handle alone: logs at WARNING (none on success), no metrics, no tracer."""
    logger = Logger(
        service="bench-core",
        level="WARNING",
        logger_handler=logging.StreamHandler(CountingSink()),
    )
    sqs = cast("SQSClient", StubSqs())
    worker = Worker(
        registry=tasks,
        store=InMemoryJobStore(),
        sqs=sqs,
        dead_letters=DeadLetterQueue(sqs, "stub-dlq"),
        logger=logger,
    )
    return worker.handle, worker


def _stub_aws(worker: Worker) -> None:
    sqs = cast("SQSClient", StubSqs())
    worker.store = InMemoryJobStore()
    worker.sqs = sqs
    worker.dead_letters = DeadLetterQueue(sqs, "stub-dlq")


def bare_batch_processor() -> Handler:
    """The baseline: Powertools' BatchProcessor with a trivial record handler."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: SQSRecord) -> Any:
        return json.loads(record.body)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with processor(event["Records"], record_handler):
            processor.process()
        return dict(processor.response())

    return handler


def cpu_us_per_message(handler: Handler, events: list[dict[str, Any]], sink: CountingSink) -> float:
    """CPU per message; what the handler prints (EMF metrics) goes to ``sink``."""
    context = BenchContext()
    messages = sum(len(e["Records"]) for e in events)
    with contextlib.redirect_stdout(sink):
        started = time.process_time()
        for event in events:
            response = handler(event, context)
            assert not response["batchItemFailures"], response
        used = time.process_time() - started
    return used / messages * 1e6


def run(messages: int = 20_000, rounds: int = 3) -> Section:
    started = time.perf_counter()
    sink = CountingSink()
    variants: dict[str, tuple[Handler, Worker | None]] = {
        "baseline": (bare_batch_processor(), None),
        "deployed": deployed_worker(sink),
        "core": core_worker(),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    events = sqs_events(messages)
    log_bytes = 0
    for _ in range(rounds):  # interleaved, so drift hits every variant alike
        for name, (handler, worker) in variants.items():
            if worker is not None:
                _stub_aws(worker)  # fresh jobs every round
            sink.bytes = 0
            samples[name].append(cpu_us_per_message(handler, events, sink))
            if name == "deployed":
                log_bytes = sink.bytes
    base = statistics.median(samples["baseline"])
    deployed, core = (statistics.median(samples[k]) for k in ("deployed", "core"))
    per_message = log_bytes / messages
    return Section(
        title="3. Worker CPU per message (AWS calls stubbed)",
        baseline="Powertools BatchProcessor (SQS) with a record handler that only parses "
        "the JSON body; same events, same batches of 10",
        figures=[
            Figure("worker as deployed (handler, INFO logs, metrics)", deployed, base, "us/msg"),
            Figure("worker core (Worker.handle, no logs, no metrics)", core, base, "us/msg"),
        ],
        details=[
            f"  {name}: " + ", ".join(f"{s:.1f}" for s in values) + " us/msg"
            for name, values in samples.items()
        ],
        notes=[
            f"CPU time (time.process_time) over {messages:,} durable jobs of a task that "
            f"returns at once, per round; median of {rounds} rounds",
            "the store is bench.stubs.InMemoryJobStore (our JobStore Protocol in a dict), SQS "
            "a stub: botocore's own CPU per AWS call is not counted",
            "'as deployed' calls functions/worker/handler.py's handler, its Worker's store and "
            "SQS swapped for the stubs; Tracer disabled (no X-Ray daemon off Lambda)",
            f"as deployed, each job writes {per_message:.0f} bytes of logs and EMF metrics: "
            f"${per_message * 1e6 / 1024**3 * CLOUDWATCH_LOGS_PER_GB:.2f} per million jobs of "
            f"CloudWatch Logs ingestion at ${CLOUDWATCH_LOGS_PER_GB:.2f}/GB",
        ],
        seconds=time.perf_counter() - started,
    )
