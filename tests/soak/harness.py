"""The chaos soak: many jobs through the emulator while faults are injected, then an audit.

:func:`run` starts the emulator on ``tests/soak/template.yaml`` (the real worker
handler and job store, in Lambda-like processes, polled by the event source mapping
with its MaximumConcurrency), enqueues the planned jobs (:mod:`tests.soak.plan`)
with the real producer in waves, waits until the queue is drained, then audits the
job table, the dead-letter queue, the side-effect ledger and the chaos log
(:mod:`tests.soak.report`).

Faults: retryable task failures, processes that crash (``os._exit``) before, after
or inside the side effect, processes killed at the function's Timeout, throttling
of SQS and DynamoDB requests inside the worker (:mod:`tests.soak.chaos`), the same
envelope delivered twice, and poison messages. :mod:`tests.soak.tasks` says where
each strikes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from offpath.aws import Clients
from offpath.local.emulator import Emulator, EmulatorOptions
from offpath.local.motoserver import free_port
from offpath.producer import JobRequest, Producer
from offpath.store import DynamoDBJobStore
from tests.soak import chaos
from tests.soak.plan import Plan
from tests.soak.report import Report, audit

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
Log = Callable[[str], None]


@dataclass
class _Invocations:
    """Counts the worker's invocations from the emulator's log, and keeps the log."""

    path: Path
    total: int = 0
    crashed: int = 0
    timed_out: int = 0

    def __call__(self, line: str) -> None:
        with self.path.open("a") as out:
            out.write(f"{time.time():.3f} {line}\n")
        if not line.startswith("WorkerFunction "):
            return
        self.total += 1
        if "Runtime exited" in line:
            self.crashed += 1
        elif "timed out" in line:
            self.timed_out += 1


def run(
    soak: Plan,
    workdir: Path,
    *,
    concurrency: int = 4,
    wave: int = 1000,
    timeout_s: float = 1500,
    log: Log = lambda line: None,
) -> Report:
    """Run the plan on a fresh emulator; ``workdir`` receives the ledger and chaos log."""
    workdir.mkdir(parents=True, exist_ok=True)
    ledger = workdir / "ledger.jsonl"
    invocations = _Invocations(workdir / "emulator.log")
    options = EmulatorOptions(
        template=TEMPLATE,
        api_port=0,
        background=True,
        parameters={"MaxConcurrency": concurrency},
        extra_environment={
            "EXAMPLE_OUTBOX": str(ledger),
            chaos.SOAK_DIR_ENV: str(workdir),
            chaos.THROTTLE_RATES_ENV: chaos.format_rates(
                {"sqs": soak.rates.throttle_sqs, "dynamodb": soak.rates.throttle_dynamodb}
            ),
        },
    )
    started = time.monotonic()
    with (
        _moto_server(workdir / "moto.log") as endpoint,
        Emulator(replace(options, endpoint=endpoint), log=invocations) as emulator,
    ):
        queues = _Queues(emulator, log)
        _enqueue(soak, queues, wave, log)
        drained = queues.wait_drained(started + timeout_s, log)
        seconds = time.monotonic() - started
        report = audit(
            soak, queues.statuses(), queues.dead_letters(), ledger, workdir / "chaos.jsonl"
        )
    report.drained, report.seconds = drained, seconds
    report.invocations = invocations.total
    report.invocations_crashed = invocations.crashed
    report.invocations_timed_out = invocations.timed_out
    return report


@contextmanager
def _moto_server(log_path: Path) -> Iterator[str]:
    """moto's server as the emulator starts it, but with its errors kept in ``log_path``."""
    port = free_port()
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "offpath.local.motoserver", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(endpoint, process)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_until_up(endpoint: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/_offpath/clock", timeout=5):  # noqa: S310
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer on {endpoint}")


class _Queues:
    """The emulator's queue, DLQ and table, from the test's side."""

    def __init__(self, emulator: Emulator, log: Log) -> None:
        assert emulator.clients is not None and emulator.provisioned is not None
        self.log = log
        self.clients: Clients = emulator.clients
        self.queue_url = emulator.provisioned.queue_url("JobsQueue")
        self.dlq_url = emulator.provisioned.queue_url("JobsDeadLetterQueue")
        self.table = emulator.provisioned.table_name("JobsTable")
        store = DynamoDBJobStore(self.clients.dynamodb, self.table)
        self.producer = Producer(self.clients.sqs, self.queue_url, store)
        self.sent_bodies: dict[str, str] = {}
        # The exact bodies the producer sends, to send some of them a second time.
        self.clients.sqs.meta.events.register(
            "provide-client-params.sqs.SendMessageBatch", self._keep_bodies
        )

    def _keep_bodies(self, params: dict[str, Any], **_: Any) -> None:
        for entry in params.get("Entries", []):
            self.sent_bodies[json.loads(entry["MessageBody"])["job_id"]] = entry["MessageBody"]

    def depth(self) -> dict[str, int]:
        """The queue's depth; a failed look (after botocore's retries) is logged and retried."""
        for _ in range(30):
            try:
                attrs = self.clients.sqs.get_queue_attributes(
                    QueueUrl=self.queue_url,
                    AttributeNames=[
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible",
                        "ApproximateNumberOfMessagesDelayed",
                    ],
                )["Attributes"]
                break
            except (ClientError, BotoCoreError) as exc:
                self.log(f"queue depth unknown ({exc}); asking again (see moto.log)")
                time.sleep(2)
        else:
            raise RuntimeError("moto's server stopped answering; see moto.log")
        return {
            "visible": int(attrs["ApproximateNumberOfMessages"]),
            "in_flight": int(attrs["ApproximateNumberOfMessagesNotVisible"]),
            "delayed": int(attrs["ApproximateNumberOfMessagesDelayed"]),
        }

    def send_raw(self, body: str) -> None:
        self.clients.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def wait_below(self, visible: int, deadline: float) -> None:
        while self.depth()["visible"] >= visible and time.monotonic() < deadline:
            time.sleep(0.5)

    def wait_drained(self, deadline: float, log: Log) -> bool:
        """Until nothing is visible, in flight or delayed, twice in a row."""
        empty_checks, last_note = 0, 0.0
        while time.monotonic() < deadline:
            depth = self.depth()
            empty_checks = empty_checks + 1 if sum(depth.values()) == 0 else 0
            if empty_checks >= 2:
                return True
            if time.monotonic() - last_note > 10:
                log(f"queue: {depth}")
                last_note = time.monotonic()
            time.sleep(1)
        return False

    def dead_letters(self) -> list[MessageTypeDef]:
        letters: list[MessageTypeDef] = []
        while True:
            got = self.clients.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=600,
            ).get("Messages", [])
            if not got:
                return letters
            letters.extend(got)

    def statuses(self) -> dict[str, str]:
        """Every job record's status, by job id (one Scan)."""
        found: dict[str, str] = {}
        pages = self.clients.dynamodb.get_paginator("scan").paginate(
            TableName=self.table,
            ProjectionExpression="pk, #s",
            ExpressionAttributeNames={"#s": "status"},
        )
        for page in pages:
            for item in page.get("Items", []):
                pk = item["pk"].get("S", "")
                if pk.startswith("job#") and "status" in item:
                    found[pk.removeprefix("job#")] = item["status"].get("S", "")
        return found


def _enqueue(soak: Plan, queues: _Queues, wave: int, log: Log) -> None:
    """Jobs and poison in waves (moto's SQS slows with deep queues), duplicates after."""
    requests: list[JobRequest] = [job.request() for job in soak.jobs]
    raw_poison = []
    for poison in soak.poison:
        request = poison.request()
        if request is None:
            raw_poison.append(poison.body())
        else:
            requests.append(request)
    duplicates = {job.job_id for job in soak.jobs if job.duplicate}
    deadline = time.monotonic() + 3600
    for start in range(0, len(requests), wave):
        queues.wait_below(max(1, wave // 2), deadline)
        batch = requests[start : start + wave]
        queues.producer.enqueue_many(batch)
        for request in batch:
            if request.job_id in duplicates:
                queues.send_raw(queues.sent_bodies[request.job_id])
        log(f"enqueued {min(start + wave, len(requests))}/{len(requests)}")
    for body in raw_poison:
        queues.send_raw(body)
