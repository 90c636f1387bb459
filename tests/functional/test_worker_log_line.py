"""The worker's per-job success line: small, searchable by job, silenced by the log level."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from offpath.joblog import success_line
from offpath.producer import request
from offpath.tasks import TaskRegistry
from tests.support import Stack


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def _run_one(stack: Stack, level: str, correlation_id: str | None = None) -> io.StringIO:
    tasks = TaskRegistry()

    @tasks.task
    def double(n: int) -> int:
        return 2 * n

    stream = io.StringIO()
    worker = stack.worker(tasks)
    worker.logger = Logger(
        service=f"log-line-{level}", level=level, logger_handler=logging.StreamHandler(stream)
    )
    stack.producer.enqueue(replace(request(double, 21), correlation_id=correlation_id))
    stack.drain(worker)
    return stream


def test_a_succeeded_job_writes_one_small_line_with_what_a_search_needs(stack: Stack) -> None:
    written = _lines(_run_one(stack, "INFO", correlation_id="req-7"))

    [line] = [line for line in written if line.get("message") == "job succeeded"]
    assert line["task"] == "double" and line["attempt"] == 1
    assert line["correlation_id"] == "req-7"
    assert {"job_id", "timestamp", "duration_ms", "service"} <= line.keys()
    assert not {"function_arn", "location", "cold_start"} & line.keys(), "the invocation's context"


def test_the_log_level_above_info_silences_the_success_line(stack: Stack) -> None:
    assert _lines(_run_one(stack, "WARNING")) == []


def test_the_line_stays_small() -> None:
    line = success_line(
        service="offpath-worker",
        when=datetime(2026, 6, 1, tzinfo=UTC),
        job_id="6ff5cd3244304c898379b36fc4f196be",  # a generated id
        task="generate_report",
        attempt=5,
        duration_ms=12_345.678,
        request_id="8476a536-e9f4-11e8-9739-2dfe598c3fcd",
        correlation_id=None,
    )

    assert len(line.encode()) < 300, "Powertools' line for the same job is about 500 bytes"
    parsed = json.loads(line)
    assert parsed["duration_ms"] == 12_345.7
    assert "correlation_id" not in parsed, "no correlation id of its own: the job id says it"


@pytest.mark.parametrize("correlation_id", ["job-1", None])
def test_a_correlation_id_equal_to_the_job_id_is_not_repeated(correlation_id: str | None) -> None:
    line = success_line(
        service="s",
        when=datetime(2026, 6, 1, tzinfo=UTC),
        job_id="job-1",
        task="t",
        attempt=1,
        duration_ms=1,
        request_id="r",
        correlation_id=correlation_id,
    )
    assert "correlation_id" not in json.loads(line)
