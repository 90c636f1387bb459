"""Per-service endpoints hold together: provisioning and functions use the same map.

The issue's case: ``AWS_ENDPOINT_URL_SQS`` at one backend, the rest at another. The
queues must be made where the functions will send, so an enqueue answers 202.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import boto3
import pytest

from offpath.local.backends import MotoBackend
from offpath.local.endpoints import Endpoints
from tests.emulator.conftest import StartEmulator
from tests.support import TEMPLATE

pytestmark = pytest.mark.emulator


@pytest.fixture
def sqs_elsewhere() -> Iterator[MotoBackend]:
    with MotoBackend() as backend:
        yield backend


def _queue_names(endpoint: str) -> set[str]:
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="123456789012",
        aws_secret_access_key="local",
    )
    return {url.rsplit("/", 1)[-1] for url in sqs.list_queues().get("QueueUrls", [])}


def test_sqs_at_another_endpoint_gets_the_queues_and_the_functions_messages(
    start_emulator: StartEmulator, sqs_elsewhere: MotoBackend
) -> None:
    emulator = start_emulator(TEMPLATE, service_endpoints={"sqs": sqs_elsewhere.endpoint})
    assert emulator.backend is not None
    default = emulator.backend.endpoints.default
    assert default is not None and default != sqs_elsewhere.endpoint

    request = urllib.request.Request(  # noqa: S310 -- loopback
        f"{emulator.api_url}/reports",
        data=json.dumps({"user_id": 3, "month": "2026-06"}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.status == 202

    assert {"offpath-JobsQueue", "offpath-JobsDeadLetterQueue"} <= _queue_names(
        sqs_elsewhere.endpoint
    )
    assert "offpath-JobsQueue" not in _queue_names(default)
    assert [r.deleted for r in emulator.drain()] == [1], "the worker read it from there"
    env = emulator.function_environments()["ApiFunction"]["endpoints"]
    assert env["AWS_ENDPOINT_URL_SQS"] == sqs_elsewhere.endpoint


def test_the_shells_endpoint_variables_are_read_as_boto3_reads_them() -> None:
    endpoints = Endpoints.from_environment(
        {"AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_SQS": "http://b"}
    )

    assert endpoints is not None
    assert (endpoints.url("sqs"), endpoints.url("dynamodb")) == ("http://b", "http://a")
    assert endpoints.environment() == {
        "AWS_ENDPOINT_URL": "http://a",
        "AWS_ENDPOINT_URL_SQS": "http://b",
    }
    assert Endpoints.from_environment({}) is None
