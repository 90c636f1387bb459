"""Hostile SQS message bodies, each with the dead-letter reason it must end with.

Only what can really arrive: an SQS body is a string of the characters SQS accepts
(tab, newline, carriage return, U+0020 and up, no lone surrogate, no U+FFFE/U+FFFF),
so "not UTF-8" here means what such bytes become on their way in: text decoded as
latin-1, a base64 blob, a byte-order mark; and NUL, control characters and lone
surrogates arrive as JSON escapes (``\\u0000``, ``\\ud800``), which are plain ASCII.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from offpath.deadletters import DeadReason
from offpath.envelope import MAX_JSON_DEPTH, SQS_MAX_MESSAGE_BYTES

MALFORMED = DeadReason.MALFORMED
UNKNOWN_TASK = DeadReason.UNKNOWN_TASK
INVALID_ARGUMENTS = DeadReason.INVALID_ARGUMENTS

# Room for the dead-letter attributes the worker adds (nine, the error message at
# most 1,024 characters): a body this far under the limit must still reach the DLQ.
DLQ_ATTRIBUTE_ROOM_BYTES = 16 * 1024
PAST_RECURSION_LIMIT = 100_000  # far past CPython's default limit of 1,000


@dataclass(frozen=True)
class Hostile:
    """One bad body and what the worker must make of it."""

    name: str
    body: str
    reason: DeadReason
    says: str  # a fragment of the dead letter's ``offpath.error_message``
    job_id: str | None = None  # the dead letter's ``offpath.job_id``, if it can be read


def envelope(job_id: Any, /, **fields: Any) -> dict[str, Any]:
    """A valid generate_report envelope, with ``fields`` replaced (``None`` deletes)."""
    base: dict[str, Any] = {
        "v": 1,
        "job_id": job_id,
        "task": "generate_report",
        "args": {"user_id": 1, "month": "2026-01"},
        "enqueued_at": "2026-06-01T00:00:00Z",
        "correlation_id": f"c-{job_id}",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not _DELETE}


_DELETE: Any = object()


def body(job_id: Any, /, **fields: Any) -> str:
    return json.dumps(envelope(job_id, **fields))


def padded_to(size_bytes: int, job_id: str) -> str:
    """A valid envelope whose args carry an extra ``pad`` string: ``size_bytes`` long."""
    empty = body(job_id, args={"user_id": 1, "month": "2026-01", "pad": ""})
    padded = body(
        job_id, args={"user_id": 1, "month": "2026-01", "pad": "a" * (size_bytes - len(empty))}
    )
    assert len(padded.encode()) == size_bytes
    return padded


def nested_lists(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _sqs_latin1(raw: bytes) -> str:
    """Bytes read as latin-1, less the C0 controls SQS would refuse at send."""
    return "".join(c for c in raw.decode("latin-1") if c in "\t\n\r" or ord(c) >= 0x20)


def _not_json() -> list[Hostile]:
    text = body("h-nan").replace('"user_id": 1', '"user_id": NaN')
    return [
        Hostile("truncated", body("h-trunc")[:60], MALFORMED, "body is not JSON"),
        Hostile("python-repr", repr(envelope("h-repr")), MALFORMED, "body is not JSON"),
        Hostile("xml", '<?xml version="1.0"?><job id="1"/>', MALFORMED, "body is not JSON"),
        Hostile("trailing-garbage", body("h-trail") + " x", MALFORMED, "Extra data"),
        Hostile("whitespace-only", " \n\t\r ", MALFORMED, "body is not JSON"),
        Hostile("utf8-bom", "\ufeff" + body("h-bom"), MALFORMED, "BOM"),
        Hostile(
            "raw-tab-in-string",
            body("h-tab").replace("generate_report", "generate\treport"),
            MALFORMED,
            "Invalid control character",
        ),
        # Python's json reads NaN; the task's int argument must not.
        Hostile("nan-argument", text, INVALID_ARGUMENTS, "user_id:", "h-nan"),
        Hostile(
            "int-past-4300-digits",
            body("h-digits").replace('"user_id": 1', '"user_id": 1' + "0" * 4300),
            MALFORMED,
            "body is not JSON",
        ),
    ]


def _not_utf8() -> list[Hostile]:
    mojibake = json.dumps(envelope("h-mojibake", task="générer_rapport"), ensure_ascii=False)
    return [
        Hostile(
            "utf8-read-as-latin1",
            mojibake.encode().decode("latin-1"),
            UNKNOWN_TASK,
            "unknown task 'gÃ©nÃ©rer_rapport'",
            "h-mojibake",
        ),
        Hostile("binary-as-latin1", _sqs_latin1(bytes(range(256))), MALFORMED, "not JSON"),
        Hostile("bom-as-latin1", "ï»¿" + body("h-bom1"), MALFORMED, "body is not JSON"),
        Hostile(
            "base64-envelope",
            base64.b64encode(body("h-b64").encode()).decode(),
            MALFORMED,
            "body is not JSON",
        ),
        Hostile(
            "base64-as-json-string",
            json.dumps(base64.b64encode(body("h-b64s").encode()).decode()),
            MALFORMED,
            "invalid envelope",
        ),
        Hostile(
            "lone-surrogate-in-argument",
            body("h-surrogate-arg", args={"user_id": 1, "month": "\ud800"}),
            INVALID_ARGUMENTS,
            "month: Input should be a valid string",
            "h-surrogate-arg",
        ),
        Hostile(
            "astral-task-name",
            body("h-emoji", task="\U0001f600"),
            UNKNOWN_TASK,
            "unknown task '\U0001f600'",
            "h-emoji",
        ),
        Hostile(
            "escaped-nul-in-argument",
            body("h-nul-arg", args={"user_id": 1, "month": "2026-01\u0000"}),
            INVALID_ARGUMENTS,
            "month: String should match pattern",
            "h-nul-arg",
        ),
    ]


def _bad_envelopes() -> list[Hostile]:
    no = _DELETE
    return [
        Hostile(
            "version-2", body("h-v2", v=2), MALFORMED, "unsupported envelope version 2", "h-v2"
        ),
        Hostile("version-as-string", body("h-v1s", v="1"), MALFORMED, "version '1'", "h-v1s"),
        Hostile(
            "version-null",
            body("h-vnull", v=None),
            MALFORMED,
            "unsupported envelope version None",
            "h-vnull",
        ),
        Hostile(
            "version-missing", body("h-vmiss", v=no), MALFORMED, "v: Field required", "h-vmiss"
        ),
        Hostile("empty-object", "{}", MALFORMED, "job_id: Field required"),
        Hostile("no-job-id", body("x", job_id=no), MALFORMED, "job_id: Field required"),
        Hostile(
            "no-task", body("h-notask", task=no), MALFORMED, "task: Field required", "h-notask"
        ),
        Hostile(
            "no-args", body("h-noargs", args=no), MALFORMED, "args: Field required", "h-noargs"
        ),
        Hostile("json-null", "null", MALFORMED, "invalid envelope"),
        Hostile("json-array", "[]", MALFORMED, "invalid envelope"),
        Hostile("json-string", '"generate_report"', MALFORMED, "invalid envelope"),
        Hostile(
            "empty-task-name", body("h-empty-task", task=""), MALFORMED, "task:", "h-empty-task"
        ),
        Hostile(
            "job-id-object", body("x", job_id={"$ne": None}), MALFORMED, "job_id: Input should be"
        ),
        Hostile("job-id-too-long", body("j" * 200), MALFORMED, "job_id: String should"),
        Hostile(
            "job-id-path",
            body("../../etc/passwd"),
            MALFORMED,
            "job_id: String should match pattern",
            None,  # not a job id: no record is touched, no attribute claims it
        ),
        Hostile(
            "enqueued-at-garbage",
            body("h-when", enqueued_at="yesterday"),
            MALFORMED,
            "enqueued_at:",
            "h-when",
        ),
        Hostile(
            "args-as-list",
            body("h-argslist", args=[42, "2026-06"]),
            MALFORMED,
            "args: Input should be a valid dictionary",
            "h-argslist",
        ),
    ]


def _bad_tasks_and_arguments() -> list[Hostile]:
    def args(job_id: str, **values: Any) -> str:
        return body(job_id, args={"user_id": 1, "month": "2026-01", **values})

    return [
        Hostile(
            "unknown-task",
            body("h-unknown", task="no_such_task"),
            UNKNOWN_TASK,
            "unknown task 'no_such_task'",
            "h-unknown",
        ),
        Hostile(
            "import-path-as-task",
            body("h-ospath", task="os.system", args={"command": "id"}),
            UNKNOWN_TASK,
            "unknown task 'os.system'",
            "h-ospath",
        ),
        Hostile(
            "user-id-not-a-number",
            args("h-type-uid", user_id="abc"),
            INVALID_ARGUMENTS,
            "user_id: Input should be a valid integer",
            "h-type-uid",
        ),
        Hostile(
            "month-a-number",
            args("h-type-month", month=202606),
            INVALID_ARGUMENTS,
            "month: Input should be a valid string",
            "h-type-month",
        ),
        Hostile(
            "user-id-infinite",
            args("h-inf").replace('"user_id": 1', '"user_id": 1e999'),
            INVALID_ARGUMENTS,
            "user_id: Input should be a finite number",
            "h-inf",
        ),
        Hostile(
            "user-id-negative",
            args("h-negative", user_id=-1),
            INVALID_ARGUMENTS,
            "user_id: Input should be greater than 0",
            "h-negative",
        ),
        Hostile(
            "extra-argument",
            args("h-extra", admin=True),
            INVALID_ARGUMENTS,
            "admin: Extra inputs are not permitted",
            "h-extra",
        ),
        Hostile(
            "missing-argument",
            body("h-missing", args={"user_id": 1}),
            INVALID_ARGUMENTS,
            "month: Field required",
            "h-missing",
        ),
    ]


def _huge_and_deep() -> list[Hostile]:
    near_limit = SQS_MAX_MESSAGE_BYTES - DLQ_ATTRIBUTE_ROOM_BYTES
    deep = '{"v": 1, "job_id": "h-deep-obj", "args": ' + '{"a": ' * PAST_RECURSION_LIMIT
    return [
        Hostile(
            "huge-envelope",
            padded_to(near_limit, "h-huge"),
            INVALID_ARGUMENTS,
            "pad: Extra inputs are not permitted",
            "h-huge",
        ),
        Hostile("huge-not-json", "x" * near_limit, MALFORMED, "body is not JSON"),
        Hostile(
            "deeper-than-our-limit",
            body("h-deep", args={"user_id": 1, "month": nested_lists(MAX_JSON_DEPTH + 8)}),
            MALFORMED,
            f"nests deeper than {MAX_JSON_DEPTH} levels",
            "h-deep",
        ),
        Hostile(
            "arrays-past-recursion-limit",
            "[" * PAST_RECURSION_LIMIT + "]" * PAST_RECURSION_LIMIT,
            MALFORMED,
            "recursion",
        ),
        Hostile(
            "objects-past-recursion-limit",
            deep + "1" + "}" * (PAST_RECURSION_LIMIT + 1),
            MALFORMED,
            "recursion",
        ),
    ]


CORPUS: list[Hostile] = [
    *_not_json(),
    *_not_utf8(),
    *_bad_envelopes(),
    *_bad_tasks_and_arguments(),
    *_huge_and_deep(),
]


@dataclass(frozen=True)
class Finding:
    """A hostile body the worker does not handle yet: the bug, and the fix it needs."""

    case: Hostile
    bug: str


_RAW_ATTRIBUTE = (
    "F2: the worker copies client-controlled text ({where}) into the DLQ message "
    "attributes unchanged; AWS refuses attribute values with NUL, C0 controls or lone "
    "surrogates (InvalidParameterValue), so the DLQ send fails, the record is retried "
    "and SQS's redrive finally moves it without its reason. Fix: worker._text() "
    "replaces characters outside SQS's set with U+FFFD; _envelope_ids() keeps a job "
    "id only if it matches JOB_ID_PATTERN."
)

FINDINGS: list[Finding] = [
    Finding(
        Hostile(
            "escaped-nul-in-task-name",
            body("h-nul-task", task="generate_report\u0000"),
            UNKNOWN_TASK,
            "unknown task",
            "h-nul-task",
        ),
        _RAW_ATTRIBUTE.format(where="offpath.task"),
    ),
    Finding(
        Hostile(
            "lone-surrogate-task-name",
            body("h-sur-task", task="\ud800"),
            MALFORMED,
            "task:",
            "h-sur-task",
        ),
        _RAW_ATTRIBUTE.format(where="offpath.task"),
    ),
    Finding(
        Hostile("escaped-nul-in-job-id", body("h\u0000"), MALFORMED, "job_id: String should"),
        _RAW_ATTRIBUTE.format(where="offpath.job_id"),
    ),
    Finding(
        Hostile(
            "escaped-nul-envelope-key",
            json.dumps({**envelope("h-nul-key"), "\u0000": 1}),
            MALFORMED,
            "Extra inputs are not permitted",
            "h-nul-key",
        ),
        _RAW_ATTRIBUTE.format(where="an unexpected key's name, in offpath.error_message"),
    ),
    Finding(
        Hostile(
            "terminal-escape-argument-name",
            body("h-esc", args={"user_id": 1, "month": "2026-01", "\u001b[2J": 1}),
            INVALID_ARGUMENTS,
            "Extra inputs are not permitted",
            "h-esc",
        ),
        _RAW_ATTRIBUTE.format(where="an argument's name, in offpath.error_message"),
    ),
    Finding(
        Hostile(
            "naive-enqueued-at",
            body("h-naive", enqueued_at="2026-06-01T00:00:00"),
            MALFORMED,
            "enqueued_at:",
            "h-naive",
        ),
        "F4: an enqueued_at without a UTC offset passes Envelope validation, then "
        "Worker._attempt raises TypeError (naive minus aware datetime) after the claim: "
        "the record is retried until SQS redrives it without a reason, and the job "
        "stays 'running'. Fix: Envelope.enqueued_at: AwareDatetime.",
    ),
    Finding(
        Hostile("version-true", body("h-vtrue", v=True), MALFORMED, "version", "h-vtrue"),
        "F5: v=true passes the version check (True == 1 in Python) and Literal[1] in "
        "lax mode, so the job runs. Fix: `type(v) is int` in the pre-check, or "
        "Field(strict=True) on v.",
    ),
    Finding(
        Hostile("version-float", body("h-vfloat", v=1.0), MALFORMED, "version", "h-vfloat"),
        "F5: v=1.0 is accepted as version 1 (as v=true). Same fix.",
    ),
]
