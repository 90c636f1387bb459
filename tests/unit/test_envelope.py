"""The envelope: JSON only, versioned, size-limited, hostile input refused clearly."""

from __future__ import annotations

import json

import pytest

from offpath.envelope import MAX_JSON_DEPTH, SQS_MAX_MESSAGE_BYTES, Envelope
from offpath.errors import MalformedMessage, PayloadTooLarge


def test_round_trip_keeps_every_field() -> None:
    envelope = Envelope.new("generate_report", {"user_id": 42}, correlation_id="req-1")
    body = envelope.to_body()
    assert json.loads(body).keys() == {
        "v",
        "job_id",
        "task",
        "args",
        "enqueued_at",
        "correlation_id",
    }
    assert Envelope.from_body(body) == envelope


def test_correlation_id_defaults_to_the_job_id() -> None:
    envelope = Envelope.new("t", {}, job_id="job-1")
    assert envelope.correlation_id == "job-1"


def test_payload_over_the_sqs_limit_is_refused_at_enqueue() -> None:
    envelope = Envelope.new("t", {"blob": "x" * SQS_MAX_MESSAGE_BYTES})
    with pytest.raises(PayloadTooLarge, match="exceeds the SQS limit of 1048576 bytes"):
        envelope.to_body()


VALID = Envelope.new("t", {}, job_id="j").to_body()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "body is not JSON"),
        ("\udcff", "body is not JSON"),
        ("[]", "invalid envelope"),
        (VALID.replace('"v":1', '"v":2'), "unsupported envelope version 2"),
        (json.dumps({"v": 1}), "job_id: Field required"),
        (VALID.replace('"job_id":"j"', '"job_id":"../etc"'), "job_id: String should match"),
        (VALID.replace('"args":{}', '"args":[]'), "args: Input should be a valid dictionary"),
        (json.dumps({**json.loads(VALID), "extra": 1}), "extra: Extra inputs are not permitted"),
        ("[" * 100_000 + "]" * 100_000, "body is not JSON"),
        (
            VALID.replace('"args":{}', '"args":{"a":' + "[" * 40 + "]" * 40 + "}"),
            f"deeper than {MAX_JSON_DEPTH}",
        ),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body: str, message: str) -> None:
    with pytest.raises(MalformedMessage) as excinfo:
        Envelope.from_body(body)
    assert message in str(excinfo.value)
