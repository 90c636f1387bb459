"""Fixtures for the API: the stack, with the API's own cached clients counted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import functions.shared.tasks  # noqa: F401  (registers the example tasks)
import pytest
from fastapi.testclient import TestClient
from functions.api.app import app, offpath
from functions.api.telemetry import logger

from offpath.store import DynamoDBJobStore
from tests import iam_calls
from tests.support import Stack

# The app as ApiFunction serves it: its requests' AWS calls are ApiFunction's
# (tests/iam_calls.py).
API = iam_calls.served_as("ApiFunction", app)

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def api(stack: Stack) -> Iterator[Stack]:
    """The provisioned stack, as a new API container sees it.

    The API builds its own clients (once per container); they are attached to
    ``stack.calls`` so tests count the API's AWS requests as well.
    """
    offpath.reset()
    producer = offpath.producer()
    assert isinstance(producer.store, DynamoDBJobStore)
    stack.calls.attach(producer.sqs)
    stack.calls.attach(producer.store.client)
    stack.calls.clear()
    yield stack
    offpath.reset()


@pytest.fixture
def client(api: Stack) -> Iterator[TestClient]:
    with TestClient(API) as test_client:
        yield test_client


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """The API logger's JSON lines, written while the test runs."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line]
    if previous is not None:
        handler.setStream(previous)
