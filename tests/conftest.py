"""Fixtures shared by every layer of the test pyramid.

No test ever reaches real AWS: credentials are fake and every endpoint is moto. The
in-process stack is offpath's public harness (offpath.testing), as users get it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from functions.shared import services

from offpath.local.clock import EmulatorClock
from offpath.local.metering import CallLog
from offpath.testing import OffpathStack
from tests import iam_calls
from tests.support import TEMPLATE

# Every function's AWS calls, recorded across the suite (tests/iam_calls.py) and set
# against template.yaml's roles at the end: OFFPATH_IAM_CHECK=report prints what a
# role lacks or allows needlessly, OFFPATH_IAM_CHECK=1 fails on it (scripts/test, when
# it runs the whole suite). Read now, before the tests' environment is isolated.
iam_calls.install()
IAM_CHECK = os.environ.get("OFFPATH_IAM_CHECK", "")
IAM_SUMMARY: list[str] = []  # the check's lines, for the end of the terminal summary


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    # The controller (or a run without workers), before any worker starts.
    if not _is_worker(session.config):
        iam_calls.clear(iam_calls.DUMPS)


# Last: after the session's fixtures are torn down (their function processes have
# written their calls). A pytest-xdist worker writes its own calls before it reports
# itself finished; the controller's session ends after every worker has, so it
# checks once, on everything.
@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    name = config.workerinput["workerid"] if _is_worker(config) else "main"  # type: ignore[attr-defined]
    iam_calls.DUMPS.mkdir(exist_ok=True)
    iam_calls.dump(iam_calls.DUMPS / f"{name}.jsonl")
    if _is_worker(config) or IAM_CHECK not in ("1", "report"):
        return
    missing, excess = iam_calls.report(TEMPLATE, iam_calls.DUMPS)
    lines = [f"missing: {m}" for m in missing] + [f"excess: {e}" for e in excess]
    failing = bool(lines) and IAM_CHECK == "1"
    if not lines:
        lines = ["every role allows exactly what uses it"]
    elif failing:
        lines.append("these fail the run: the roles are in template.yaml (docs/security.md)")
    else:
        lines.append("printed only (OFFPATH_IAM_CHECK=report): this run saw some calls only")
    IAM_SUMMARY[:] = lines
    if failing and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if IAM_SUMMARY:
        terminalreporter.section("least privilege (tests/iam_calls.py)")
        for line in IAM_SUMMARY:
            terminalreporter.line(f"IAM: {line}")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("offpath end-to-end (tests/e2e, docs/testing.md)")
    group.addoption(
        "--stack-name",
        default=os.environ.get("OFFPATH_E2E_STACK"),
        help="run tests/e2e against this deployed stack (default: $OFFPATH_E2E_STACK; "
        "credentials and Region from the usual AWS environment)",
    )
    group.addoption("--stack-region", default=None, help="the deployed stack's Region")
    group.addoption("--stack-profile", default=None, help="the AWS profile that reaches it")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "OFFPATH_", "POWERTOOLS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "offpath")
    monkeypatch.setenv("EXAMPLE_OUTBOX", str(tmp_path / "outbox.jsonl"))


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, offpath_stack: OffpathStack) -> OffpathStack:
    """template.yaml on in-process moto (offpath.testing's ``offpath_stack``), with the
    worker function's environment set for the test's own code."""
    for name, value in offpath_stack.environment_of("WorkerFunction").items():
        monkeypatch.setenv(name, value)
    services.clear()
    return offpath_stack


@pytest.fixture
def clock(stack: OffpathStack) -> EmulatorClock:
    """The stack's clock, installed in moto: ``clock.advance(s)`` moves SQS time."""
    return stack.clock


@pytest.fixture
def calls(stack: OffpathStack) -> CallLog:
    """The AWS calls of the stack's own clients."""
    return stack.calls
