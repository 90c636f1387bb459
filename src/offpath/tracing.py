"""Tracing for the handlers: X-Ray through Powertools' Tracer, OpenTelemetry, or off.

Nothing of a tracer is imported until tracing is on: Powertools' ``Tracer()`` imports
the X-Ray SDK (130-220 ms of every cold start) even when it is disabled, so a
handler decorates itself with :func:`traced_handler`, which decides on the first
invocation, and the worker asks :func:`job_tracer` for its per-job spans.

The mode is ``OFFPATH_TRACING``: ``xray`` (the default), ``otel`` or ``off``. X-Ray
is off wherever Powertools turns it off (``POWERTOOLS_TRACE_DISABLED``, outside
Lambda, ``sam local``), so a test or ``offpath dev`` never loads the SDK.

With ``otel`` (template ``TracingMode: OpenTelemetry``) the AWS Distro for
OpenTelemetry layer instruments the handler and exports; offpath adds a span per
job with its id and task as attributes, and carries the trace from the producer
through each message (``traceparent``/``tracestate`` message attributes) into the
worker, where the job's span continues it. X-Ray needs no carrying: SQS passes its
header on as the ``AWSTraceHeader`` system attribute.

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
    from opentelemetry.trace import Tracer as OtelTracer

TRACING = "OFFPATH_TRACING"

R = TypeVar("R")


# The W3C trace context's fields, carried as message attributes of the same names.
TRACE_ATTRIBUTES = ("traceparent", "tracestate")


class Mode(StrEnum):
    XRAY = "xray"
    OTEL = "otel"
    OFF = "off"


class JobTracer(Protocol):
    """What the worker traces each job with."""

    def job(
        self, job_id: str, task: str, parent: Mapping[str, str] | None = None
    ) -> AbstractContextManager[None]:
        """A span (subsegment) around one job, searchable by its id and task.

        ``parent``: the trace context the message carried (OpenTelemetry's fields).
        """
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

    def job(
        self, job_id: str, task: str, parent: Mapping[str, str] | None = None
    ) -> AbstractContextManager[None]:
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
    def job(
        self, job_id: str, task: str, parent: Mapping[str, str] | None = None
    ) -> Iterator[None]:
        with self.tracer.provider.in_subsegment(f"## {task}") as subsegment:
            subsegment.put_annotation("job_id", job_id)
            subsegment.put_annotation("task", task)
            yield

    def wrap(self, handler: Callable[..., R]) -> Callable[..., R]:
        wrapped: Callable[..., R] = self.tracer.capture_lambda_handler(
            handler, capture_response=False
        )
        return wrapped


class OpenTelemetryTracing:
    """A span per job through the OpenTelemetry API, whose SDK the ADOT layer brings.

    ``opentelemetry`` is imported on first use: only this mode needs it.
    """

    def __init__(self, tracer: OtelTracer | None = None) -> None:
        self._tracer = tracer

    @property
    def tracer(self) -> OtelTracer:
        if self._tracer is None:
            from opentelemetry import trace

            self._tracer = trace.get_tracer("offpath")
        return self._tracer

    @contextmanager
    def job(
        self, job_id: str, task: str, parent: Mapping[str, str] | None = None
    ) -> Iterator[None]:
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind

        context = propagate.extract(dict(parent)) if parent else None
        with self.tracer.start_as_current_span(
            f"{task} process",
            context=context,
            kind=SpanKind.CONSUMER,
            attributes={"offpath.job_id": job_id, "offpath.task": task},
        ):
            yield

    def carrier(self) -> dict[str, str]:
        """The current trace's context, to carry in a message."""
        from opentelemetry import propagate

        found: dict[str, str] = {}
        propagate.inject(found)
        return {k: v for k, v in found.items() if k in TRACE_ATTRIBUTES}


@functools.cache
def job_tracer() -> JobTracer:
    """This process's job tracer, decided once from the environment."""
    chosen = mode()
    if chosen is Mode.XRAY:
        return _xray()
    if chosen is Mode.OTEL:
        return _otel()
    return NoTracing()


@functools.cache
def _otel() -> OpenTelemetryTracing:
    return OpenTelemetryTracing()


def trace_carrier() -> Callable[[], dict[str, str]] | None:
    """What a producer calls for the trace context of each send; None unless ``otel``."""
    return _otel().carrier if mode() is Mode.OTEL else None


def parent_from(message_attributes: Mapping[str, Any]) -> dict[str, str]:
    """The trace context a record's message attributes carry (Lambda's event shape)."""
    found: dict[str, str] = {}
    for name in TRACE_ATTRIBUTES:
        value = message_attributes.get(name)
        if isinstance(value, Mapping) and isinstance(value.get("stringValue"), str):
            found[name] = value["stringValue"]
    return found


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
