"""Integration fixtures: moto's server over HTTP, the path boto3 takes to AWS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from offpath.aws import Clients
from offpath.local.motoserver import MotoServer
from offpath.local.provision import Provisioned, provision
from tests.support import TEMPLATE


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def server_stack(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Clients, Provisioned]:
    """The template on the server under a fresh stack name: shallow queues per test."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)
    clients = Clients("us-east-1")
    provisioned = provision(TEMPLATE, clients, stack_name=f"it-{uuid.uuid4().hex[:8]}")
    for name, value in provisioned.environment("WorkerFunction").items():
        monkeypatch.setenv(name, value)
    moto_server.reset_calls()
    return clients, provisioned
