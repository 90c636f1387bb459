"""Properties: whatever body arrives, the worker answers for it and never for its neighbour.

For any body, delivered in one batch beside a good job:

- ``Worker.handle`` returns a partial batch response and nothing is handed back:
  a body that is not a runnable job is dead-lettered at once with a permanent
  reason, never retried (retrying garbage only delays the DLQ by
  ``maxReceiveCount`` x the visibility timeout and loses the reason);
- a body that *is* a runnable job runs (or is acknowledged as done);
- the good neighbour succeeds;
- every message the worker sends keeps SQS's rules as AWS enforces them.

The bodies are what SQS can deliver: text of SQS's characters, and JSON documents
whose strings may hold anything, escaped (``json.dumps`` writes ASCII).
"""

from __future__ import annotations

import json
import string
import uuid
from datetime import UTC, datetime
from typing import Any

import functions.shared.tasks  # noqa: F401  (registers the example tasks)
import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from offpath.deadletters import DeadReason
from offpath.envelope import Envelope
from offpath.errors import OffpathError
from offpath.local.context import LocalContext
from offpath.local.events import sqs_event
from offpath.store import JobStatus
from offpath.tasks import registry
from tests.hostile.corpus import body as envelope_body
from tests.hostile.sqs_rules import SqsRules, forbidden_characters
from tests.support import Stack

PERMANENT = {
    DeadReason.MALFORMED,
    DeadReason.UNKNOWN_TASK,
    DeadReason.INVALID_ARGUMENTS,
    DeadReason.PERMANENT_ERROR,
}
# Tasks a generated envelope may name: each either succeeds or fails permanently, so
# "runnable" and "dead-lettered" are the only right outcomes. (always_fail is
# retryable by design; charge_customer needs a Lambda context for idempotency.)
NAMED_TASKS = ["generate_report", "send_welcome_email", "reject"]

# ---------------------------------------------------------------- strategies
# What an SQS body may hold: tab, LF, CR, U+0020 and up, no surrogate, no U+FFFE/F.
_C0 = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]
SQS_CHARACTERS = st.characters(
    exclude_categories=["Cs"], exclude_characters=[*_C0, "\ufffe", "\uffff"]
)
# What a JSON string may hold once its escapes are read: anything, lone surrogates too.
ANY_CHARACTERS = st.characters(codec=None)


def json_values(chars: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(chars, max_size=12)
    )
    return st.recursive(
        scalars,
        lambda kids: (
            st.lists(kids, max_size=3)
            | st.dictionaries(st.text(chars, max_size=6), kids, max_size=3)
        ),
        max_leaves=12,
    )


JOB_IDS = st.text(string.ascii_letters + string.digits + "_.:-", min_size=1, max_size=20)
MONTHS = st.sampled_from(["2026-01", "2026-06", "2026-12"])


def _valid_args(chars: st.SearchStrategy[str]) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    return {
        "generate_report": st.fixed_dictionaries(
            {"user_id": st.integers(1, 2**31), "month": MONTHS}
        ),
        "send_welcome_email": st.fixed_dictionaries({"email": st.just("a@example.com")}),
        "reject": st.fixed_dictionaries({}, optional={"reason": st.text(chars, max_size=20)}),
    }


def _hostile_fields(chars: st.SearchStrategy[str], naive_times: bool) -> dict[str, Any]:
    junk = json_values(chars)
    moments = st.datetimes(timezones=st.none() if naive_times else st.just(UTC))
    return {
        "v": st.sampled_from([0, 2, -1, "1", None]) | junk,
        "job_id": st.text(chars, max_size=130) | junk,
        "task": st.sampled_from(["no_such_task", "", "os.system"]) | st.text(chars, max_size=20),
        "args": st.dictionaries(st.text(chars, max_size=6), junk, max_size=3) | junk,
        "enqueued_at": moments.map(datetime.isoformat) | junk,
        "correlation_id": st.just("") | st.text(chars, min_size=257, max_size=300) | junk,
    }


@st.composite
def envelopes(draw: st.DrawFn, chars: st.SearchStrategy[str], *, naive_times: bool = False) -> str:
    """A valid envelope of a named task, then zero to two of its parts made hostile.

    Mutating a valid document (rather than drawing every field from anything) keeps
    the mix useful: runnable jobs, bad arguments, unknown tasks and bad envelopes.
    """
    task = draw(st.sampled_from(NAMED_TASKS))
    doc: dict[str, Any] = {
        "v": 1,
        "job_id": draw(JOB_IDS),
        "task": task,
        "args": draw(_valid_args(chars)[task]),
        "enqueued_at": datetime.now(UTC).isoformat(),
        "correlation_id": draw(st.text(chars, min_size=1, max_size=20)),
    }
    hostile = _hostile_fields(chars, naive_times)
    for field in draw(st.lists(st.sampled_from(sorted(hostile)), max_size=2, unique=True)):
        doc[field] = draw(hostile[field])
    for field in draw(st.lists(st.sampled_from(sorted(doc)), max_size=1)):
        del doc[field]
    if isinstance(doc.get("args"), dict):
        # One argument too many, of the wrong type, or with a hostile name.
        extra = draw(st.dictionaries(st.text(chars, max_size=8), json_values(chars), max_size=1))
        doc["args"] = {**doc["args"], **extra}
    doc.update(draw(st.dictionaries(st.text(chars, min_size=1, max_size=6), st.none(), max_size=1)))
    return json.dumps(doc)


TEXT_BODIES = st.text(SQS_CHARACTERS, min_size=1, max_size=400)
JSON_BODIES = json_values(SQS_CHARACTERS).map(json.dumps)


# ---------------------------------------------------------------- the property
def _message(text: str) -> dict[str, Any]:
    now_ms = str(int(datetime.now(UTC).timestamp() * 1000))
    return {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": f"rh-{uuid.uuid4().hex}",
        "Body": text,
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now_ms,
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
    }


def _runnable(text: str) -> bool:
    """Would this body run as a job? (The worker's own checks, in its order.)"""
    try:
        envelope = Envelope.from_body(text)
        registry.get(envelope.task).load(envelope.args)
    except OffpathError:
        return False
    return True


def assert_answered_for(stack: Stack, rules: SqsRules, text: str) -> None:
    assert forbidden_characters(text) == [], "SQS would never deliver this body"
    neighbour_id = uuid.uuid4().hex
    hostile, neighbour = (
        _message(text),
        _message(envelope_body(neighbour_id, args={"user_id": 3, "month": "2026-03"})),
    )
    batch = sqs_event([hostile, neighbour], stack.queue_arn, "us-east-1")  # type: ignore[list-item]
    stack.calls.clear()
    rules.refused.clear()

    response = stack.worker(registry).handle(batch, LocalContext(timeout_s=60))

    assert response == {"batchItemFailures": []}
    assert rules.refused == []
    assert stack.store.get(neighbour_id).status is JobStatus.SUCCEEDED
    letters = [
        p["MessageAttributes"]
        for p in stack.calls.params("SendMessage")
        if p["QueueUrl"] == stack.dlq_url
        and p["MessageAttributes"]["offpath.source_message_id"]["StringValue"]
        == hostile["MessageId"]
    ]
    # Shown by --hypothesis-show-statistics: how often each outcome was exercised.
    event("dead: " + letters[0]["offpath.reason"]["StringValue"] if letters else "ran")
    if _runnable(text):
        assert letters == [] or letters[0]["offpath.reason"]["StringValue"] == "permanent_error"
    else:
        assert len(letters) == 1
        assert letters[0]["offpath.reason"]["StringValue"] in PERMANENT


@pytest.fixture
def rules(stack: Stack) -> SqsRules:
    return SqsRules().attach(stack.clients.sqs)


@given(text=TEXT_BODIES | JSON_BODIES)
@example(text="{")
@example(text="[" * 5_000)
def test_any_text_body_is_dead_lettered_at_once_and_never_fails_its_neighbour(
    stack: Stack, rules: SqsRules, text: str
) -> None:
    assert_answered_for(stack, rules, text)


@given(text=envelopes(SQS_CHARACTERS))
@example(text=envelope_body("p-ok", args={"user_id": 1, "month": "2026-01"}))
def test_any_envelope_shaped_body_runs_or_is_dead_lettered_at_once(
    stack: Stack, rules: SqsRules, text: str
) -> None:
    assert_answered_for(stack, rules, text)


# Found F2 and F4 (tests/hostile/corpus.py FINDINGS) before they were fixed.
@given(text=envelopes(ANY_CHARACTERS, naive_times=True))
@example(text=envelope_body("p-nul", task="generate_report\u0000"))
def test_any_envelope_even_with_escaped_controls_runs_or_is_dead_lettered_at_once(
    stack: Stack, rules: SqsRules, text: str
) -> None:
    assert_answered_for(stack, rules, text)
