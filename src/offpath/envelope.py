"""The SQS message body: a versioned JSON envelope. Never pickle.

What the worker refuses to read (:meth:`Envelope.from_body`), the sender refuses to
write: :func:`check_args` and :meth:`Envelope.new` raise typed offpath errors at
enqueue, before anything is written.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from offpath.errors import InvalidArguments, InvalidJobRequest, MalformedMessage, PayloadTooLarge
from offpath.tasks import format_validation_error

ENVELOPE_VERSION = 1

# SQS's limit for one message (body plus attributes) and for one SendMessageBatch call:
# 1 MiB since August 2025.
SQS_MAX_MESSAGE_BYTES = 1_048_576

# Deeply nested JSON is a cheap denial of service on the parser; no real job needs it.
MAX_JSON_DEPTH = 32

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
MAX_CORRELATION_ID_CHARS = 256

# An argument's value sits two levels down in the envelope (envelope -> args -> value),
# and the worker refuses envelopes deeper than MAX_JSON_DEPTH.
MAX_ARGS_DEPTH = MAX_JSON_DEPTH - 2


def new_job_id() -> str:
    """A random job id: 32 hex characters."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One job as it travels through SQS.

    Example:
        >>> env = Envelope.new("resize_image", {"image_id": 42}, job_id="j1")
        >>> Envelope.from_body(env.to_body()).task
        'resize_image'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = Field(description="envelope version")
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    task: str = Field(min_length=1, max_length=256)
    args: dict[str, Any]
    enqueued_at: AwareDatetime
    correlation_id: str = Field(min_length=1, max_length=256)
    # Where to POST the completion webhook; absent (not null) from bodies without one,
    # so a job that asks for none sends the same bytes as before.
    callback_url: str | None = Field(default=None, min_length=1, max_length=2048)

    @classmethod
    def new(
        cls,
        task: str,
        args: dict[str, Any],
        *,
        job_id: str | None = None,
        correlation_id: str | None = None,
        enqueued_at: AwareDatetime | None = None,
        callback_url: str | None = None,
    ) -> Envelope:
        """A new envelope, checked as the worker will check it.

        Raises:
            InvalidJobRequest: the job id or correlation id is one the worker refuses.
            InvalidArguments: an argument nests too deep or is not valid Unicode.
        """
        check_job_id(job_id)
        check_correlation_id(correlation_id)
        check_args(task, args)
        job_id = job_id or new_job_id()
        try:
            return cls(
                v=ENVELOPE_VERSION,
                job_id=job_id,
                task=task,
                args=args,
                enqueued_at=enqueued_at or utcnow(),
                correlation_id=correlation_id or job_id,
                callback_url=callback_url,
            )
        except ValidationError as exc:
            field = str(exc.errors()[0]["loc"][0]) if exc.errors() else "task"
            raise InvalidJobRequest(
                f"{task}: invalid envelope: {format_validation_error(exc)}", field=field
            ) from exc

    def to_body(self) -> str:
        """The JSON body; raises :class:`PayloadTooLarge` past the SQS limit."""
        body = self.model_dump_json(exclude_none=True)
        size = len(body.encode("utf-8"))
        if size > SQS_MAX_MESSAGE_BYTES:
            raise PayloadTooLarge(size, SQS_MAX_MESSAGE_BYTES)
        return body

    @classmethod
    def from_body(cls, body: str) -> Envelope:
        """Parse a message body.

        Raises:
            MalformedMessage: not JSON, too deep, or not a valid envelope of this version.
        """
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise MalformedMessage(f"body is not JSON: {exc}") from exc
        if json_depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise MalformedMessage(f"body nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(data, dict) and "v" in data:
            version = data["v"]
            # `type(...) is int`: True == 1 and 1.0 == 1 in Python, not in the envelope.
            if type(version) is not int or version != ENVELOPE_VERSION:
                raise MalformedMessage(f"unsupported envelope version {version!r}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise MalformedMessage(f"invalid envelope: {format_validation_error(exc)}") from exc


def check_job_id(job_id: str | None) -> None:
    """Refuse a job id the worker would not read (``None``: a new one is made).

    Raises:
        InvalidJobRequest: the id does not match :data:`JOB_ID_PATTERN`.
    """
    if job_id is not None and not re.fullmatch(JOB_ID_PATTERN, job_id):
        raise InvalidJobRequest(
            f"job id {job_id[:140]!r} is not 1-128 of A-Za-z0-9_.:- starting with a letter "
            "or digit",
            field="job_id",
        )


def check_correlation_id(correlation_id: str | None) -> None:
    """Refuse a correlation id the envelope cannot carry.

    Raises:
        InvalidJobRequest: empty, over 256 characters, or not valid Unicode.
    """
    if correlation_id is None:
        return
    if not 1 <= len(correlation_id) <= MAX_CORRELATION_ID_CHARS or not _encodable(correlation_id):
        raise InvalidJobRequest(
            f"correlation id must be 1-{MAX_CORRELATION_ID_CHARS} characters of valid Unicode",
            field="correlation_id",
        )


def check_args(task: str, args: Mapping[str, Any]) -> None:
    """Refuse arguments the envelope cannot carry to the worker, naming the argument.

    Pydantic accepts both of these, but a lone surrogate (``"\\ud800"``, legal in JSON
    text) cannot be encoded as UTF-8, so the send would fail with an unhelpful
    serialization error; and the worker rejects envelopes deeper than
    :data:`MAX_JSON_DEPTH`.

    Raises:
        InvalidArguments: with a pydantic ``ValidationError`` as its cause, whose
            ``loc`` is the argument's name (an API turns it into a 422).
    """
    for name, value in args.items():
        if json_depth(value, MAX_ARGS_DEPTH) > MAX_ARGS_DEPTH:
            _reject(task, name, "too_deep", f"nests deeper than {MAX_ARGS_DEPTH} levels")
        if not _encodable(value):
            _reject(task, name, "string_unicode", "text is not valid Unicode (lone surrogate)")


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except (TypeError, ValueError):
        return True  # not JSON at all: the task's own validation says so, by name
    return True


def _reject(task: str, name: str, code: str, message: str) -> None:
    detail = InitErrorDetails(type=PydanticCustomError(code, message), loc=(name,), input=None)
    error = ValidationError.from_exception_data(task, [detail])
    raise InvalidArguments(f"{task}: {name}: {message}") from error


def json_depth(value: Any, limit: int) -> int:
    """How deep a JSON value nests; counting stops just past ``limit``.

    Iterative, so a hostile 100k-deep document cannot blow the stack here.
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return deepest
