"""The sending-side checks: whatever the worker would refuse, JobRequest refuses first.

Pure unit tests: a JobRequest is checked when it is made, before any AWS call, with
a typed error whose ``field`` says which part of the request is at fault.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from offpath.envelope import MAX_ARGS_DEPTH, Envelope
from offpath.errors import (
    DelayNotSupported,
    IdempotencyNotSupported,
    InvalidArguments,
    InvalidJobRequest,
    OffpathError,
)
from offpath.producer import MAX_DELAY_S, MAX_SCHEDULE_S, JobRequest
from offpath.tasks import TaskRegistry

tasks = TaskRegistry()


@tasks.task
def durable(blob: Any = None) -> None: ...


@tasks.task(durable=False)
def fire_and_forget(blob: Any = None) -> None: ...


def nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels - 1):
        value = [value]
    return value


SOON = datetime.now(UTC) + timedelta(minutes=5)
LATER = datetime.now(UTC) + timedelta(hours=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"delay_s": -1}, InvalidJobRequest, "delay_s"),
        ({"delay_s": MAX_SCHEDULE_S + 1}, InvalidJobRequest, "delay_s"),
        ({"delay_s": True}, InvalidJobRequest, "delay_s"),
        ({"run_at": datetime(2030, 1, 1)}, InvalidJobRequest, "run_at"),
        ({"run_at": LATER, "delay_s": 5}, InvalidJobRequest, "run_at"),
        ({"job_id": "has spaces"}, InvalidJobRequest, "job_id"),
        ({"job_id": "x" * 129}, InvalidJobRequest, "job_id"),
        ({"correlation_id": "c" * 257}, InvalidJobRequest, "correlation_id"),
        ({"correlation_id": "\ud800"}, InvalidJobRequest, "correlation_id"),
    ],
    ids=[
        "negative-delay",
        "delay-past-a-year",
        "boolean-delay",
        "naive-run-at",
        "run-at-and-delay",
        "job-id-with-spaces",
        "job-id-too-long",
        "correlation-id-too-long",
        "correlation-id-lone-surrogate",
    ],
)
def test_what_no_task_can_have_is_refused_naming_the_field(
    kwargs: dict[str, Any], error: type[InvalidJobRequest], field: str
) -> None:
    with pytest.raises(error) as caught:
        JobRequest(durable, {}, **kwargs)

    assert caught.value.field == field
    assert isinstance(caught.value, OffpathError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"delay_s": MAX_DELAY_S + 1}, DelayNotSupported, "delay_s"),
        ({"run_at": LATER}, DelayNotSupported, "run_at"),
        ({"idempotency_key": "k1"}, IdempotencyNotSupported, "idempotency_key"),
    ],
    ids=["long-delay", "run-at-later", "idempotency-key"],
)
def test_what_needs_a_record_is_refused_for_a_fire_and_forget_task(
    kwargs: dict[str, Any], error: type[InvalidJobRequest], field: str
) -> None:
    with pytest.raises(error, match="fire-and-forget") as caught:
        JobRequest(fire_and_forget, {}, **kwargs)

    assert caught.value.field == field
    # The same options are fine on a durable task, and short delays on any.
    JobRequest(durable, {}, **kwargs)
    JobRequest(fire_and_forget, {}, delay_s=MAX_DELAY_S)
    JobRequest(fire_and_forget, {}, run_at=SOON)


@pytest.mark.parametrize(
    ("blob", "code"),
    [(nested(MAX_ARGS_DEPTH + 1), "too_deep"), ({"text": "\udfff"}, "string_unicode")],
    ids=["too-deep", "lone-surrogate"],
)
def test_arguments_the_envelope_cannot_carry_are_refused_naming_the_argument(
    blob: Any, code: str
) -> None:
    with pytest.raises(InvalidArguments, match="durable: blob: ") as caught:
        JobRequest(durable, {"blob": blob})

    cause = caught.value.__cause__
    assert isinstance(cause, ValidationError)
    assert [(e["loc"], e["type"]) for e in cause.errors()] == [(("blob",), code)]


def test_the_deepest_arguments_accepted_are_ones_the_worker_reads() -> None:
    deepest = nested(MAX_ARGS_DEPTH)
    JobRequest(durable, {"blob": deepest})

    envelope = Envelope.new("durable", {"blob": deepest})

    assert Envelope.from_body(envelope.to_body()) == envelope


def test_an_envelope_is_checked_as_the_worker_checks_it() -> None:
    with pytest.raises(InvalidJobRequest) as caught:
        Envelope.new("durable", {}, job_id="bad id")
    assert caught.value.field == "job_id"
    with pytest.raises(InvalidArguments, match="nests deeper"):
        Envelope.new("durable", {"blob": nested(MAX_ARGS_DEPTH + 1)})
