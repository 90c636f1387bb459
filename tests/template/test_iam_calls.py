"""The least-privilege check (tests/iam_calls.py) on template.yaml, with calls given.

The suite's own recording is checked at the end of ``scripts/test``; these tests show
the check tells a missing action and a needless one, whatever the function.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests import iam_calls
from tests.support import TEMPLATE


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return iam_calls.transformed_template(TEMPLATE)


def test_a_call_the_role_lacks_is_named(cfn: dict[str, Any]) -> None:
    calls = {"SchedulerFunction": {("dynamodb:Query", "offpath-JobsTable", "")}}

    missing, _ = iam_calls.check(cfn, calls)

    assert missing == [
        "SchedulerFunction calls dynamodb:Query on JobsTable; SchedulerFunctionRole lacks it"
    ]


def test_an_action_nothing_calls_is_excess(cfn: dict[str, Any]) -> None:
    calls = {"SchedulerFunction": {("sqs:SendMessage", "https://q/1/offpath-JobsQueue", "")}}

    _, excess = iam_calls.check(cfn, calls)

    scheduler = [e for e in excess if e.startswith("SchedulerFunctionRole")]
    assert any("dynamodb:PutItem on JobsTable" in e for e in scheduler)
    assert not any("sqs:SendMessage on JobsQueue" in e for e in scheduler)


def test_what_aws_does_for_a_function_needs_no_call(cfn: dict[str, Any]) -> None:
    needs = iam_calls.platform_needs("WorkerFunction", cfn["Resources"])
    assert ("sqs:ReceiveMessage", "JobsQueue") in needs
    assert ("logs:PutLogEvents", "WorkerLogGroup") in needs
    scheduler = iam_calls.platform_needs("SchedulerFunction", cfn["Resources"])
    assert ("sqs:SendMessage", "SchedulerFailureQueue") in scheduler


def test_powertools_idempotency_needs_its_documented_actions(cfn: dict[str, Any]) -> None:
    calls = {
        "WorkerFunction": {("dynamodb:PutItem", "offpath-JobsTable", "powertools-idempotency")}
    }

    missing, excess = iam_calls.check(cfn, calls)

    assert not [m for m in missing if m.startswith("WorkerFunction ")]
    assert not [e for e in excess if e.startswith("WorkerFunctionRole allows dynamodb:Delete")]
