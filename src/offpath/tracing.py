"""Tracing for the handlers: X-Ray through Powertools' Tracer, or off.

Nothing of a tracer is imported until tracing is on: Powertools' ``Tracer()`` imports
the X-Ray SDK (130-220 ms of every cold start) even when it is disabled, so a
handler decorates itself with :func:`traced_handler`, which decides on the first
invocation, and the worker asks :func:`job_tracer` for its per-job spans.

The mode is ``OFFPATH_TRACING``: ``xray`` (the default) or ``off``. X-Ray is off
wherever Powertools turns it off (``POWERTOOLS_TRACE_DISABLED``, outside Lambda,
``sam local``), so a test or ``offpath dev`` never loads the SDK.

Example:
    >>> @traced_handler  # doctest: +SKIP
    ... def handler(event, context):
    ...     return worker().handle(event, context)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

TRACING = "OFFPATH_TRACING"

R = TypeVar("R")


class Mode(StrEnum):
    XRAY = "xray"
    OFF = "off"


class JobTracer(Protocol):
    """What the worker traces each job with."""

    def job(self, job_id: str, task: str) -> AbstractContextManager[None]:
        """A span (subsegment) around one job, searchable by its id and task."""
        ...


def _truthy(value: str | None) -> bool:
    # Powertools' own reading of POWERTOOLS_TRACE_DISABLED.
    return (value or "").strip().lower() in {"1", "true", "yes", "on", "y", "t"}


def mode(environ: Mapping[str, str] = os.environ) -> Mode:
    """The tracing this process uses, from its environment.

    Raises:
        ValueError: ``OFFPATH_TRACING`` names no mode; the message lists them.
    """
    raw = environ.get(TRACING, "").strip().lower() or Mode.XRAY.value
    try:
        chosen = Mode(raw)
    except ValueError:
        known = ", ".join(m.value for m in Mode)
        raise ValueError(f"{TRACING}={raw!r} is not a tracing mode (one of: {known})") from None
    if chosen is Mode.XRAY and _xray_disabled(environ):
        return Mode.OFF
    return chosen


def _xray_disabled(environ: Mapping[str, str]) -> bool:
    """Where Powertools' Tracer disables itself: said so, off Lambda, or a local emulator."""
    return (
        _truthy(environ.get("POWERTOOLS_TRACE_DISABLED"))
        or not environ.get("LAMBDA_TASK_ROOT")
        or bool(environ.get("AWS_SAM_LOCAL") or environ.get("AWS_CHALICE_CLI_MODE"))
    )


class NoTracing:
    """Tracing off: nothing imported, nothing recorded."""

    def job(self, job_id: str, task: str) -> AbstractContextManager[None]:
        return nullcontext()


class XRayTracing:
    """An X-Ray subsegment per job, through Powertools' Tracer (built on first use)."""

    def __init__(self, tracer: Tracer | None = None) -> None:
        self._tracer = tracer

    @property
    def tracer(self) -> Tracer:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer  # the X-Ray SDK comes with it

            self._tracer = Tracer()
        return self._tracer

    @contextmanager
    def job(self, job_id: str, task: str) -> Iterator[None]:
        with self.tracer.provider.in_subsegment(f"## {task}") as subsegment:
            subsegment.put_annotation("job_id", job_id)
            subsegment.put_annotation("task", task)
            yield

    def wrap(self, handler: Callable[..., R]) -> Callable[..., R]:
        wrapped: Callable[..., R] = self.tracer.capture_lambda_handler(
            handler, capture_response=False
        )
        return wrapped


@functools.cache
def job_tracer() -> JobTracer:
    """This process's job tracer, decided once from the environment."""
    if mode() is Mode.XRAY:
        return _xray()
    return NoTracing()


@functools.cache
def _xray() -> XRayTracing:
    return XRayTracing()


def traced_handler(handler: Callable[..., R]) -> Callable[..., R]:
    """Decorate a Lambda handler: traced as its mode says, decided on the first call.

    Deciding at the call rather than at import keeps the tracer's import out of
    INIT when tracing is off, and lets a test set the environment after importing.
    """
    chosen: list[Callable[..., R]] = []

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> R:
        if not chosen:
            chosen.append(_xray().wrap(handler) if mode() is Mode.XRAY else handler)
        return chosen[0](event, context)

    return run
