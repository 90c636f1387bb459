"""The worker's per-job success line, small.

Through Powertools' Logger the line carries the invocation's whole context (function
name, ARN, memory, cold start, source location): about 500 bytes per job, more than
a batch of ten jobs costs in Lambda time. This line keeps what a search by job needs
(job id, task, attempt, duration, the request it ran in, the correlation id when it
is not the job id) in about 250 bytes, written to the logger's own stream at its
level, so ``POWERTOOLS_LOG_LEVEL=WARNING`` (template ``LogLevel``) silences it.
Failures still go through the logger with their full context.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger


def success_line(
    *,
    service: str,
    when: datetime,
    job_id: str,
    task: str,
    attempt: int,
    duration_ms: float,
    request_id: str | None,
    correlation_id: str | None,
) -> str:
    """One JSON line; Powertools' key names, so one query reads both kinds of line."""
    fields: dict[str, object] = {
        "level": "INFO",
        "message": "job succeeded",
        "timestamp": when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "service": service,
        "job_id": job_id,
        "task": task,
        "attempt": attempt,
        "duration_ms": round(duration_ms, 1),
    }
    if request_id:
        fields["function_request_id"] = request_id
    if correlation_id and correlation_id != job_id:
        fields["correlation_id"] = correlation_id
    return json.dumps(fields, separators=(",", ":"), default=str)


def logs_info(logger: Logger) -> bool:
    """Whether ``logger`` writes INFO lines (its level, e.g. ``POWERTOOLS_LOG_LEVEL``)."""
    return logger.log_level <= logging.INFO


def write_line(logger: Logger, line: str) -> None:
    """Write ``line`` to the stream ``logger`` writes to, under its handler's lock."""
    handler = logger.registered_handler
    stream: IO[str] = getattr(handler, "stream", None) or sys.stdout
    handler.acquire()
    try:
        stream.write(line + "\n")
        stream.flush()
    finally:
        handler.release()
