"""The least-privilege check (tests/iam_calls.py) on template.yaml, with calls given,
and its recorder, in this process and in a function's own.

The suite's own recording is checked at the end of ``scripts/test``; these tests show
the check names a missing action and a needless one, whatever the function.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from tests import iam_calls
from tests.iam_record import iam_recorder
from tests.support import TEMPLATE

# What SchedulerFunction calls as the suite records it (a tick: its record, its message,
# the record removed when the message was surely refused).
TICK = {
    ("dynamodb:PutItem", "offpath-JobsTable", ""),
    ("dynamodb:DeleteItem", "offpath-JobsTable", ""),
    ("sqs:SendMessage", "https://sqs.us-east-1.amazonaws.com/123456789012/offpath-JobsQueue", ""),
    ("sqs:SendMessage", "http://127.0.0.1:4566/123456789012/offpath-HeavyQueue", ""),
}


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return iam_calls.transformed_template(TEMPLATE)


def _statements(cfn: dict[str, Any], role: str) -> list[dict[str, Any]]:
    [policy] = cfn["Resources"][role]["Properties"]["Policies"]
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def _of(lines: list[str], role: str) -> list[str]:
    """The lines about ``role``: what it allows needlessly, or lacks."""
    return [x for x in lines if x.startswith(f"{role} ") or x.endswith(f"; {role} lacks it")]


def test_the_issues_case_a_role_without_an_action_its_function_calls_is_named(
    cfn: dict[str, Any],
) -> None:
    # GIVEN SchedulerFunctionRole as it was, without DeleteItem
    lacking = copy.deepcopy(cfn)
    for statement in _statements(lacking, "SchedulerFunctionRole"):
        if statement.get("Sid") == "JobRecords":
            statement["Action"] = ["dynamodb:PutItem"]

    missing, excess = iam_calls.check(lacking, {"SchedulerFunction": TICK})

    assert missing == [
        "SchedulerFunction calls dynamodb:DeleteItem on JobsTable; SchedulerFunctionRole lacks it"
    ]
    assert not _of(excess, "SchedulerFunctionRole")
    # As the template is now, nothing is missing.
    assert iam_calls.check(cfn, {"SchedulerFunction": TICK})[0] == []


def test_a_call_a_user_adds_is_named_with_its_action_and_resource(cfn: dict[str, Any]) -> None:
    calls = {"SchedulerFunction": {*TICK, ("dynamodb:Query", "offpath-JobsTable", "")}}

    missing, _ = iam_calls.check(cfn, calls)

    assert missing == [
        "SchedulerFunction calls dynamodb:Query on JobsTable; SchedulerFunctionRole lacks it"
    ]


def test_an_action_nothing_calls_is_excess(cfn: dict[str, Any]) -> None:
    calls = {"SchedulerFunction": TICK - {("dynamodb:DeleteItem", "offpath-JobsTable", "")}}

    _, excess = iam_calls.check(cfn, calls)

    assert _of(excess, "SchedulerFunctionRole") == [
        "SchedulerFunctionRole allows dynamodb:DeleteItem on JobsTable; "
        "nothing SchedulerFunction does needs it"
    ]


def test_what_aws_does_for_a_function_needs_no_call(cfn: dict[str, Any]) -> None:
    needs = iam_calls.platform_needs("WorkerFunction", cfn["Resources"])
    assert ("sqs:ReceiveMessage", "JobsQueue") in needs  # its event source mapping
    assert ("logs:PutLogEvents", "WorkerLogGroup") in needs
    # Tracing is Active unless TracingMode is Off (an Fn::If): Lambda sends the traces.
    assert ("xray:PutTraceSegments", "*") in needs
    scheduler = iam_calls.platform_needs("SchedulerFunction", cfn["Resources"])
    assert ("sqs:SendMessage", "SchedulerFailureQueue") in scheduler  # on-failure destination


def test_an_event_source_mapping_on_the_functions_alias_needs_the_same(
    cfn: dict[str, Any],
) -> None:
    """AutoPublishAlias: SAM's mapping names the alias (``<Function>Alias<name>``)."""
    aliased = copy.deepcopy(cfn)
    resources = aliased["Resources"]
    resources["WorkerFunctionAliaslive"] = {
        "Type": "AWS::Lambda::Alias",
        "Properties": {"FunctionName": {"Ref": "WorkerFunction"}, "Name": "live"},
    }
    resources["WorkerFunctionJobs"]["Properties"]["FunctionName"] = {
        "Ref": "WorkerFunctionAliaslive"
    }

    needs = iam_calls.platform_needs("WorkerFunction", resources)

    assert needs == iam_calls.platform_needs("WorkerFunction", cfn["Resources"])
    assert ("sqs:GetQueueAttributes", "JobsQueue") in needs


def test_powertools_idempotency_needs_its_documented_actions(cfn: dict[str, Any]) -> None:
    calls = {
        "WorkerFunction": {("dynamodb:PutItem", "offpath-JobsTable", "powertools-idempotency")}
    }

    missing, excess = iam_calls.check(cfn, calls)

    assert not _of(missing, "WorkerFunctionRole")
    assert not [e for e in excess if e.startswith("WorkerFunctionRole allows dynamodb:")]


def test_a_role_passed_for_a_schedule_needs_what_the_schedule_does(
    cfn: dict[str, Any],
) -> None:
    role = "role:arn:aws:iam::123456789012:role/offpath-SchedulerRole"
    queue = "arn:aws:sqs:us-east-1:123456789012:offpath-"
    calls = {
        role: {
            ("sqs:SendMessage", f"{queue}JobsQueue", "ApiFunction"),
            ("sqs:SendMessage", f"{queue}JobsDeadLetterQueue", "ApiFunction"),
            ("sns:Publish", "arn:aws:sns:us-east-1:123456789012:offpath-Alerts", "ApiFunction"),
        }
    }

    missing, excess = iam_calls.check(cfn, calls)

    assert _of(missing, "SchedulerRole") == [
        "ApiFunction passes SchedulerRole for a schedule, which needs sns:Publish on "
        "arn:aws:sns:us-east-1:123456789012:offpath-Alerts; SchedulerRole lacks it"
    ]
    assert _of(excess, "SchedulerRole") == [
        "SchedulerRole allows sqs:SendMessage on HeavyQueue; nothing done with it needs it"
    ]


def test_the_roles_sam_makes_for_schedules_are_checked_against_their_targets(
    cfn: dict[str, Any],
) -> None:
    missing, excess = iam_calls.check(cfn, {})
    assert not _of(missing + excess, "SchedulerFunctionDailyDigestRole")

    widened = copy.deepcopy(cfn)
    role = widened["Resources"]["SchedulerFunctionDailyDigestRole"]["Properties"]
    role["Policies"][0]["PolicyDocument"]["Statement"][0]["Action"] = [
        "lambda:InvokeFunction",
        "lambda:GetFunction",
    ]
    _, excess = iam_calls.check(widened, {})
    # The schedule's target: SchedulerFunction, through its alias (AutoPublishAlias).
    arn = cfn["Resources"]["SchedulerFunctionDailyDigest"]["Properties"]["Target"]["Arn"]
    target = arn["Ref"] if "Ref" in arn else arn["Fn::GetAtt"][0]
    assert target.startswith("SchedulerFunction")
    assert _of(excess, "SchedulerFunctionDailyDigestRole") == [
        f"SchedulerFunctionDailyDigestRole allows lambda:GetFunction on {target}; "
        "nothing its schedules do needs it"
    ]


# ---------------------------------------------------------------- the recorder


def test_a_call_is_recorded_as_the_running_functions_and_only_then() -> None:
    recorder = iam_recorder.Recorder()
    handlers: list[Any] = []
    recorder.install(handlers)
    recorder.install(handlers)  # once only
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        session._session.register(*handlers[0])
        sqs = session.client("sqs")
        url = sqs.create_queue(QueueName="offpath-JobsQueue")["QueueUrl"]
        # No function of template.yaml: the suite's own recorder sees this call too.
        with iam_recorder.as_function("ProbeFunction"):
            sqs.send_message(QueueUrl=url, MessageBody="{}")
        sqs.receive_message(QueueUrl=url)  # the test's own: no function runs

    assert len(handlers) == 1
    assert recorder.calls == {("ProbeFunction", "sqs:SendMessage", url, "")}


def test_a_function_process_records_its_calls_through_sitecustomize(tmp_path: Path) -> None:
    """What the emulator's function processes do: botocore, imported after start-up,
    gets the recorder, and each call is on disk as soon as it is made."""
    code = (
        "import boto3\n"
        "from moto import mock_aws\n"
        "with mock_aws():\n"
        "    c = boto3.client('dynamodb', region_name='us-east-1')\n"
        "    c.list_tables()\n"
        "    c.list_tables()\n"
        "    import os; os._exit(0)  # killed: nothing runs at exit\n"
    )
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **iam_calls.function_environment(),
        iam_recorder.DUMP_DIRECTORY_ENV: str(tmp_path),
        "AWS_LAMBDA_FUNCTION_NAME": "WorkerFunction",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }

    subprocess.run([sys.executable, "-c", code], env=environment, check=True, timeout=60)

    [dump] = tmp_path.glob("fn-WorkerFunction-*.jsonl")
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    assert lines == [["WorkerFunction", "dynamodb:ListTables", "*", ""]]
    assert iam_calls.load([dump]) == {"WorkerFunction": {("dynamodb:ListTables", "*", "")}}


def test_another_template_than_template_yaml_records_nothing(tmp_path: Path) -> None:
    assert iam_calls.function_environment(tmp_path / "template.yaml") == {}
    assert iam_calls.function_environment(TEMPLATE)["PYTHONPATH"] == str(
        Path(iam_recorder.__file__).parent
    )
