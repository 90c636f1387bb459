"""The SQS message body: a versioned JSON envelope. Never pickle."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from offpath.errors import MalformedMessage, PayloadTooLarge
from offpath.tasks import format_validation_error

ENVELOPE_VERSION = 1

# SQS's limit for one message (body plus attributes) and for one SendMessageBatch call:
# 1 MiB since August 2025.
SQS_MAX_MESSAGE_BYTES = 1_048_576

# Deeply nested JSON is a cheap denial of service on the parser; no real job needs it.
MAX_JSON_DEPTH = 32

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


def new_job_id() -> str:
    """A random job id: 32 hex characters."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """One job as it travels through SQS.

    Example:
        >>> env = Envelope.new("generate_report", {"user_id": 42}, job_id="j1")
        >>> Envelope.from_body(env.to_body()).task
        'generate_report'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = Field(description="envelope version")
    job_id: str = Field(pattern=JOB_ID_PATTERN)
    task: str = Field(min_length=1, max_length=256)
    args: dict[str, Any]
    enqueued_at: AwareDatetime
    correlation_id: str = Field(min_length=1, max_length=256)

    @classmethod
    def new(
        cls,
        task: str,
        args: dict[str, Any],
        *,
        job_id: str | None = None,
        correlation_id: str | None = None,
        enqueued_at: AwareDatetime | None = None,
    ) -> Envelope:
        job_id = job_id or new_job_id()
        return cls(
            v=ENVELOPE_VERSION,
            job_id=job_id,
            task=task,
            args=args,
            enqueued_at=enqueued_at or utcnow(),
            correlation_id=correlation_id or job_id,
        )

    def to_body(self) -> str:
        """The JSON body; raises :class:`PayloadTooLarge` past the SQS limit."""
        body = self.model_dump_json()
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
