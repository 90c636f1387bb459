"""Each pool's dead letters on the dashboard: listed under ``/?pool=NAME``, redriven
and purged with ``{"pool": NAME}``, back to that pool's own queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functions.shared.tasks import build_report_archive

from offpath.deadletters import DeadLetter, DeadLetterQueue, DeadReason
from offpath.local.dashboard import Dashboard, Request
from offpath.local.emulator import Emulator, EmulatorOptions
from offpath.ops.status import queue_counts
from offpath.producer import JobRequest, Producer
from offpath.records import SQSRecord
from offpath.store import DynamoDBJobStore, JobError
from tests import iam_calls
from tests.support import TEMPLATE

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The two-pool template, no pollers: messages stay where the test puts them."""
    root = tmp_path_factory.mktemp("pools")
    emulator = Emulator(
        EmulatorOptions(
            template=TEMPLATE,
            api_port=0,
            background=False,
            extra_environment={
                "EXAMPLE_OUTBOX": str(Path(root) / "outbox.jsonl"),
                **iam_calls.function_environment(),
            },
        ),
        log=lambda line: None,
    )
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def _urls(emulator: Emulator) -> dict[str, str]:
    assert emulator.provisioned is not None
    pools = emulator.provisioned.location.pools
    return {
        "JobsQueue": pools["default"].queue_url,
        "HeavyQueue": pools["heavy"].queue_url,
        "HeavyDeadLetterQueue": pools["heavy"].dlq_url,
    }


def _dead_heavy_job(emulator: Emulator) -> str:
    """A build_report_archive job, moved from HeavyQueue to its DLQ as the worker does."""
    assert emulator.clients is not None and emulator.provisioned is not None
    location = emulator.provisioned.location
    sqs = emulator.clients.sqs
    store = DynamoDBJobStore(emulator.clients.dynamodb, location.table_name)
    producer = Producer(sqs, location.pool().queue_url, store, pools=location.pools)
    arguments = {"user_id": 7, "months": 1, "rows_per_month": 1}
    job = producer.enqueue(
        JobRequest(build_report_archive, build_report_archive.validate(arguments))
    )
    urls = _urls(emulator)
    [message] = sqs.receive_message(
        QueueUrl=urls["HeavyQueue"], AttributeNames=["All"], WaitTimeSeconds=0
    )["Messages"]
    record = SQSRecord(
        {
            "messageId": message["MessageId"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
        }
    )
    letter = DeadLetter(
        DeadReason.PERMANENT_ERROR,
        JobError("ValueError", "no archive"),
        job_id=job.job_id,
        task=build_report_archive.name,
        attempts=1,
    )
    assert DeadLetterQueue(sqs, urls["HeavyDeadLetterQueue"]).send(record, letter)
    sqs.delete_message(QueueUrl=urls["HeavyQueue"], ReceiptHandle=message["ReceiptHandle"])
    return job.job_id


def _dlq_part(dashboard: Dashboard, query: dict[str, str]) -> str:
    response = dashboard.handle(Request("GET", "/", query=query, wants_json=True))
    assert response is not None and response.status == 200
    return str(json.loads(response.body)["parts"]["dlq"])


def _post(dashboard: Dashboard, path: str, body: Any) -> tuple[int, dict[str, str]]:
    response = dashboard.handle(Request("POST", path, body=body))
    assert response is not None
    return response.status, json.loads(response.body)


def test_a_heavy_dead_letter_is_listed_and_redriven_in_its_own_pool(emulator: Emulator) -> None:
    job_id = _dead_heavy_job(emulator)
    dashboard = Dashboard(emulator)
    dashboard.sampler.sample()

    assert f'data-job-id="{job_id}"' in _dlq_part(dashboard, {"pool": "heavy"})
    assert job_id not in _dlq_part(dashboard, {})
    assert job_id not in _dlq_part(dashboard, {"pool": "default"})
    page = dashboard.handle(Request("GET", "/", wants_json=True))
    assert page is not None
    assert 'href="/?pool=heavy#dlq"' in json.loads(page.body)["parts"]["queues"]

    status, answer = _post(dashboard, "/dashboard/dlq/redrive", {"pool": "heavy", "all": True})

    assert status == 200, answer
    assert "1 message(s) moved to " in answer["message"]
    assert answer["message"].split(" moved to ")[1].startswith("offpath-HeavyQueue")
    assert emulator.clients is not None
    sqs, urls = emulator.clients.sqs, _urls(emulator)
    assert queue_counts(sqs, urls["HeavyQueue"]).visible == 1
    assert queue_counts(sqs, urls["JobsQueue"]).total == 0
    assert queue_counts(sqs, urls["HeavyDeadLetterQueue"]).total == 0
    dashboard.sampler.sample()
    assert job_id not in _dlq_part(dashboard, {"pool": "heavy"})


def test_an_unknown_pool_is_a_404_naming_the_known_ones(emulator: Emulator) -> None:
    dashboard = Dashboard(emulator)

    for path, body in (
        ("/dashboard/dlq/redrive", {"pool": "nope", "all": True}),
        ("/dashboard/dlq/purge", {"pool": "nope"}),
    ):
        status, answer = _post(dashboard, path, body)
        assert status == 404
        assert "'nope'" in answer["error"] and "default, heavy" in answer["error"]
    page = dashboard.handle(Request("GET", "/", query={"pool": "nope"}, wants_json=True))
    assert page is not None and page.status == 404
    assert status == 404 and "heavy" in json.loads(page.body)["error"]
    status, answer = _post(dashboard, "/dashboard/dlq/redrive", {"pool": 3, "all": True})
    assert status == 400
