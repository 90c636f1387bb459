"""OpenTelemetry: the trace runs from the enqueuing request through the message into the job.

In-process moto; the SDK's in-memory exporter stands in for the ADOT layer's.
"""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from offpath.producer import request
from offpath.tasks import TaskRegistry
from offpath.tracing import OpenTelemetryTracing, parent_from
from tests.support import Stack


@pytest.fixture
def spans() -> tuple[OpenTelemetryTracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OpenTelemetryTracing(provider.get_tracer("test")), exporter


def _by_name(finished: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    [span] = [s for s in finished if s.name == name]
    return span


def test_the_job_span_continues_the_trace_of_the_request_that_enqueued_it(
    stack: Stack, spans: tuple[OpenTelemetryTracing, InMemorySpanExporter]
) -> None:
    tracing, exporter = spans
    tasks = TaskRegistry()

    @tasks.task
    def double(n: int) -> int:
        return 2 * n

    stack.producer.trace_context = tracing.carrier
    worker = stack.worker(tasks)
    worker.tracer = tracing

    # GIVEN a job enqueued inside the API's span
    with tracing.tracer.start_as_current_span("POST /double"):
        job = stack.producer.enqueue(request(double, 21))
    # WHEN the worker runs it, outside any span of its own
    stack.drain(worker)

    # THEN the job's span is a child of the request's, and names the job
    finished = exporter.get_finished_spans()
    api, run = _by_name(finished, "POST /double"), _by_name(finished, "double process")
    assert api.context is not None and run.context is not None and run.parent is not None
    assert run.context.trace_id == api.context.trace_id
    assert run.parent.span_id == api.context.span_id
    assert run.kind is SpanKind.CONSUMER
    assert dict(run.attributes or {}) == {"offpath.job_id": job.job_id, "offpath.task": "double"}


def test_a_message_without_trace_context_starts_a_trace_of_its_own(
    stack: Stack, spans: tuple[OpenTelemetryTracing, InMemorySpanExporter]
) -> None:
    tracing, exporter = spans
    tasks = TaskRegistry()

    @tasks.task
    def noop() -> None:
        return None

    worker = stack.worker(tasks)
    worker.tracer = tracing
    stack.producer.enqueue(request(noop))  # no trace context carried

    stack.drain(worker)

    run = _by_name(exporter.get_finished_spans(), "noop process")
    assert run.parent is None


def test_only_the_w3c_fields_are_read_from_the_message_attributes() -> None:
    traceparent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    attributes = {
        "traceparent": {"dataType": "String", "stringValue": traceparent},
        "offpath.reason": {"dataType": "String", "stringValue": "malformed"},
        "tracestate": {"dataType": "Binary", "binaryValue": "eA=="},
    }

    assert parent_from(attributes) == {"traceparent": traceparent}
