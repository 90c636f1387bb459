"""Tracing's mode, read from the environment, and X-Ray's subsegment per job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest

from offpath.tracing import Mode, NoTracing, XRayTracing, mode, traced_handler

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

ON_LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task"}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (ON_LAMBDA, Mode.XRAY),  # the default on Lambda
        ({**ON_LAMBDA, "OFFPATH_TRACING": " XRay "}, Mode.XRAY),
        ({**ON_LAMBDA, "OFFPATH_TRACING": "off"}, Mode.OFF),
        ({**ON_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, Mode.OFF),
        ({**ON_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, Mode.XRAY),
        ({**ON_LAMBDA, "AWS_SAM_LOCAL": "true"}, Mode.OFF),
        ({}, Mode.OFF),  # off Lambda: no daemon to send to
        ({**ON_LAMBDA, "OFFPATH_TRACING": "otel"}, Mode.OTEL),
        ({"OFFPATH_TRACING": "otel", "POWERTOOLS_TRACE_DISABLED": "true"}, Mode.OTEL),
    ],
)
def test_the_mode_follows_the_environment(environ: dict[str, str], expected: Mode) -> None:
    assert mode(environ) is expected


def test_an_unknown_mode_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"OFFPATH_TRACING='zipkin' is not .*xray, otel, off"):
        mode({"OFFPATH_TRACING": "zipkin"})


class RecordingProvider:
    """Stands in for X-Ray's recorder: records subsegments and their annotations."""

    def __init__(self) -> None:
        self.subsegments: list[tuple[str, dict[str, Any]]] = []

    @contextmanager
    def in_subsegment(self, name: str) -> Iterator[Any]:
        annotations: dict[str, Any] = {}
        self.subsegments.append((name, annotations))
        yield SimpleNamespace(put_annotation=annotations.__setitem__)


def test_xray_puts_each_job_in_a_subsegment_annotated_with_its_ids() -> None:
    provider = RecordingProvider()
    tracing = XRayTracing(cast("Tracer", SimpleNamespace(provider=provider)))

    with tracing.job("j-1", "resize"):
        pass

    assert provider.subsegments == [("## resize", {"job_id": "j-1", "task": "resize"})]


def test_no_tracing_runs_the_job_and_records_nothing() -> None:
    ran = []
    with NoTracing().job("j-1", "resize"):
        ran.append(True)
    assert ran == [True]


def test_a_traced_handler_with_tracing_off_is_the_handler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OFFPATH_TRACING", "off")

    @traced_handler
    def handler(event: dict[str, int], context: object) -> int:
        return event["n"] * 2

    assert handler({"n": 21}, None) == 42
    assert handler.__name__ == "handler"
