"""Fixtures shared by every layer of the test pyramid.

No test ever reaches real AWS: credentials are fake and every endpoint is moto.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from functions.shared import services
from moto import mock_aws

from offpath.aws import Clients
from offpath.local.clock import EmulatorClock
from offpath.local.metering import CallLog
from offpath.local.provision import provision
from tests.support import TEMPLATE, Stack


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "OFFPATH_", "POWERTOOLS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "offpath")
    monkeypatch.setenv("EXAMPLE_OUTBOX", str(tmp_path / "outbox.jsonl"))


@pytest.fixture
def clock() -> Iterator[EmulatorClock]:
    """The emulator clock, installed in moto: ``clock.advance(s)`` moves SQS time."""
    emulator_clock = EmulatorClock()
    restore = emulator_clock.install_in_moto()
    yield emulator_clock
    restore()


@pytest.fixture
def calls() -> CallLog:
    return CallLog()


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, clock: EmulatorClock, calls: CallLog) -> Iterator[Stack]:
    """template.yaml provisioned on in-process moto, with the functions' environment set."""
    with mock_aws():
        clients = Clients("us-east-1")
        provisioned = provision(TEMPLATE, clients)
        for name, value in provisioned.environment("WorkerFunction").items():
            monkeypatch.setenv(name, value)
        calls.attach(clients.sqs)
        calls.attach(clients.dynamodb)
        services.clear()
        yield Stack(clients=clients, provisioned=provisioned, clock=clock, calls=calls)
