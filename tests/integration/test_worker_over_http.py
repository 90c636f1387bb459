"""The core end to end over HTTP against moto's server, counted by the server."""

from __future__ import annotations

from typing import Any

import functions.shared.tasks as example_tasks
import functions.worker.handler as worker_handler
import pytest
from samtranslator.yaml_helper import yaml_parse

from offpath.aws import Clients
from offpath.local.context import LocalContext
from offpath.local.esm import EventSourceMapping
from offpath.local.motoserver import MotoServer
from offpath.local.provision import Provisioned
from offpath.producer import request
from offpath.runtime import build_producer, build_store
from offpath.settings import Settings
from offpath.store import JobStatus
from tests.support import TEMPLATE

pytestmark = pytest.mark.integration


def _esm(clients: Clients, provisioned: Provisioned) -> EventSourceMapping:
    return EventSourceMapping(
        sqs=clients.sqs,
        queue_url=provisioned.queue_url("JobsQueue"),
        queue_arn=provisioned.topology.resolver.attrs[("JobsQueue", "Arn")],
        region="us-east-1",
    )


def _invoke(event: dict[str, Any]) -> Any:
    return worker_handler.handler(event, LocalContext(function_name="WorkerFunction"))


def test_jobs_run_through_the_worker_handler_and_the_server_counts_the_calls(
    server_stack: tuple[Clients, Provisioned], moto_server: MotoServer
) -> None:
    clients, provisioned = server_stack
    worker_handler.worker.cache_clear()
    settings = Settings()
    producer = build_producer(settings, clients)
    jobs = producer.enqueue_many(
        [request(example_tasks.generate_report, n, "2026-06") for n in (1, 2, 3)]
    )

    _esm(clients, provisioned).drain(_invoke)

    store = build_store(settings, clients)
    assert {store.get(j.job_id).status for j in jobs} == {JobStatus.SUCCEEDED}
    calls = moto_server.calls()
    assert calls["dynamodb:PutItem"] == 3  # create
    assert calls["dynamodb:UpdateItem"] == 6  # claim + finish, per job
    assert calls["sqs:SendMessageBatch"] == 1
    assert calls["sqs:DeleteMessageBatch"] == 1
    assert calls.get("dynamodb:GetItem", 0) == 3  # the three status reads above
    worker_handler.worker.cache_clear()


def test_a_message_that_keeps_crashing_is_redriven_by_max_receive_count(
    server_stack: tuple[Clients, Provisioned], moto_server: MotoServer
) -> None:
    clients, provisioned = server_stack
    producer = build_producer(Settings(), clients)
    job = producer.enqueue(request(example_tasks.generate_report, 9, "2026-06"))
    esm = _esm(clients, provisioned)
    parameters = yaml_parse(TEMPLATE.read_text())["Parameters"]
    max_receive = int(parameters["MaxReceiveCount"]["Default"])

    def crash(event: dict[str, Any]) -> Any:
        from offpath.local.esm import InvocationFailed

        raise InvocationFailed("worker process died")

    for _ in range(max_receive):
        assert esm.run_once(crash).received == 1
        moto_server.advance(361)  # past JobsQueue's 360 s visibility timeout

    # SQS moves it on the next receive after maxReceiveCount.
    assert esm.run_once(crash).received == 0
    dlq = clients.sqs.receive_message(QueueUrl=provisioned.queue_url("JobsDeadLetterQueue"))
    [message] = dlq["Messages"]
    assert job.job_id in message["Body"]
