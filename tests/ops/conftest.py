"""The app's template on the emulator, once per module, with the ops test tasks loaded.

Each test gets it reset: both queues purged, the outbox cleared, the fix undone.
Function logs go to one file per function (``<LogicalId>.log``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from offpath.local.emulator import Emulator, EmulatorOptions
from offpath.ops.dlq import DeadLetters
from offpath.ops.status import QueueCounts, queue_counts
from offpath.ops.target import Target, TargetOptions, resolve_target
from offpath.producer import Producer
from offpath.store import DynamoDBJobStore
from tests import iam_calls
from tests.support import TEMPLATE

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

TASK_MODULES = "functions.shared.tasks,tests.ops.tasks"


@dataclass
class OpsStack:
    """The running emulator, its target, and the test's levers."""

    emulator: Emulator
    marker: Path  # exists: "the fix is deployed"
    outbox: Path
    logs: Path

    @property
    def environ(self) -> dict[str, str]:
        """What a shell pointed at this emulator would export."""
        return {
            "OFFPATH_QUEUE_URL": self.queue_url,
            "OFFPATH_DLQ_URL": self.dlq_url,
            "OFFPATH_TABLE_NAME": self.table_name,
            "AWS_ENDPOINT_URL": self.emulator.endpoint,
        }

    @cached_property
    def target(self) -> Target:
        return resolve_target(TargetOptions(), self.environ)

    @property
    def queue_url(self) -> str:
        assert self.emulator.provisioned is not None
        return self.emulator.provisioned.queue_url("JobsQueue")

    @property
    def dlq_url(self) -> str:
        assert self.emulator.provisioned is not None
        return self.emulator.provisioned.queue_url("JobsDeadLetterQueue")

    @property
    def table_name(self) -> str:
        assert self.emulator.provisioned is not None
        return self.emulator.provisioned.table_name()

    @cached_property
    def store(self) -> DynamoDBJobStore:
        return DynamoDBJobStore(self.target.clients.dynamodb, self.table_name)

    @cached_property
    def producer(self) -> Producer:
        return Producer(self.target.clients.sqs, self.queue_url, self.store)

    def letters(self) -> DeadLetters:
        # moto answers a short poll with every visible message (it does not sample
        # servers as SQS does), so the engine tests skip the 1 s long poll.
        return DeadLetters(self.target.clients.sqs, self.dlq_url, self.store, wait_time_s=0)

    def counts(self, url: str) -> QueueCounts:
        return queue_counts(self.target.clients.sqs, url)

    def receive_all(self, url: str) -> list[MessageTypeDef]:
        """Every visible message, left in flight for a minute."""
        messages: list[MessageTypeDef] = []
        while got := self.target.clients.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        ).get("Messages", []):
            messages.extend(got)
        return messages

    def fix(self) -> None:
        self.marker.touch()

    def runs(self) -> list[int]:
        """The ``n`` of every successful ops_fails_until_fixed run, in order."""
        if not self.outbox.exists():
            return []
        lines = [json.loads(line) for line in self.outbox.read_text().splitlines() if line]
        return [line["n"] for line in lines if line["kind"] == "ops_fixed"]

    def log_lines(self, function: str) -> list[dict[str, Any]]:
        """The JSON lines a function printed (Powertools logs and EMF documents)."""
        path = self.logs / f"{function}.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines if line.startswith("{")]


OPS_MAX_RECEIVE_COUNT = 5  # the ops stack's MaxReceiveCount (the template's is 100)


@pytest.fixture(scope="module")
def _emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsStack]:
    root = tmp_path_factory.mktemp("ops")
    marker, outbox, logs = root / "fixed", root / "outbox.jsonl", root / "logs"
    emulator = Emulator(
        EmulatorOptions(
            template=TEMPLATE,
            api_port=0,
            background=False,
            # A small redrive, so a crashing job reaches the DLQ in few receives.
            parameters={"MaxReceiveCount": OPS_MAX_RECEIVE_COUNT},
            function_logs=logs,
            extra_environment={
                "EXAMPLE_OUTBOX": str(outbox),
                "OFFPATH_TASK_MODULES": TASK_MODULES,
                "OPS_FIXED_MARKER": str(marker),
                **iam_calls.function_environment(),
            },
        ),
        log=lambda line: None,
    )
    try:
        yield OpsStack(emulator.start(), marker, outbox, logs)
    finally:
        emulator.stop()


@pytest.fixture
def ops(_emulator: OpsStack) -> OpsStack:
    sqs = _emulator.target.clients.sqs
    _emulator.emulator.advance(61)  # SQS allows one PurgeQueue per queue every 60 s
    for url in (_emulator.queue_url, _emulator.dlq_url):
        sqs.purge_queue(QueueUrl=url)
    _emulator.marker.unlink(missing_ok=True)
    _emulator.outbox.unlink(missing_ok=True)
    return _emulator
