"""Least privilege from what the code does: each function's AWS calls, recorded across
the test suite, against its role in template.yaml.

Every call a template function makes is recorded (:mod:`tests.iam_record.iam_recorder`):
in the test's process, where offpath.testing runs the handlers and the tests drive
the API's app; and in the emulator's function processes, which load the recorder
through the ``sitecustomize`` of ``tests/iam_record`` (:func:`function_environment`)
and write their calls as they make them. :func:`check` adds what AWS does with the
role on the function's behalf (the SQS event source mapping, logs, X-Ray, the
on-failure destination, Powertools idempotency's documented actions) and what
EventBridge Scheduler does with the roles it is given, then names every action a
role lacks and every action it allows that nothing needs (docs/security.md).

The conftest merges what each process wrote at the end of the session
(``OFFPATH_IAM_CHECK``: ``report`` prints the findings, ``1`` fails on them).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore.handlers

from tests.iam_record import iam_recorder
from tests.support import ROOT, TEMPLATE

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

Need = tuple[str, str]  # (IAM action, template logical id, or "*")
Calls = dict[str, set[tuple[str, str, str]]]  # function -> {(action, name as called, via)}

# Where each process of a session writes what it recorded (the conftest clears it).
DUMPS = ROOT / ".pytest-iam"
RECORDING_SITE = Path(iam_recorder.__file__).resolve().parent
POWERTOOLS_IDEMPOTENCY = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
POWERTOOLS_IDEMPOTENCY_ALL = (*POWERTOOLS_IDEMPOTENCY, "dynamodb:DeleteItem")

# What this process records.
recorder = iam_recorder.Recorder()
as_function = iam_recorder.as_function


def install() -> None:
    """Record on every botocore session this process makes from now on."""
    recorder.install(botocore.handlers.BUILTIN_HANDLERS)


def served_as(function: str, app: ASGIApp) -> ASGIApp:
    """``app`` (a function's ASGI app, driven by a test client) whose requests make
    ``function``'s calls, as they would behind its handler; the test's own calls,
    around the requests, stay the test's."""

    async def attributed(scope: Scope, receive: Receive, send: Send) -> None:
        with as_function(function):
            await app(scope, receive, send)

    return attributed


def function_environment(template: Path = TEMPLATE) -> dict[str, str]:
    """What an emulator's function processes need to record their calls (for
    ``EmulatorOptions.extra_environment``); nothing for another template than
    template.yaml, whose functions are not the roles' business."""
    if template.resolve() != TEMPLATE:
        return {}
    return {
        "PYTHONPATH": str(RECORDING_SITE),
        iam_recorder.DUMP_DIRECTORY_ENV: str(DUMPS),
    }


def dump(path: Path) -> None:
    iam_recorder.write(path, recorder.calls)


def load(paths: Iterable[Path]) -> Calls:
    merged: Calls = {}
    for function, action, name, via in iam_recorder.read(paths):
        merged.setdefault(function, set()).add((action, name, via))
    return merged


def clear(directory: Path) -> None:
    directory.mkdir(exist_ok=True)
    for old in [*directory.glob("*.jsonl"), *directory.glob("*.json")]:
        old.unlink()


# ---------------------------------------------------------------- the check


def _logical(name: str, resources: dict[str, Any]) -> str:
    """The template resource a called name stands for (``<stack>-<LogicalId>`` locally)."""
    if name == "*":
        return "*"
    tail = name.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    matches = [r for r in resources if tail == r or tail.endswith(f"-{r}") or f"-{r}-" in tail]
    return max(matches, key=len) if matches else name


def _referenced(value: Any, resources: dict[str, Any]) -> set[str]:
    """The logical ids a policy statement's Resource names (GetAtt, Ref, ${...})."""
    text = json.dumps(value)
    if value == "*":
        return {"*"}
    return {r for r in resources if f'"{r}"' in text or f"${{{r}}}" in text}


def role_allows(role: dict[str, Any], resources: dict[str, Any]) -> set[Need]:
    allowed: set[Need] = set()
    for policy in role["Properties"].get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                targets = statement["Resource"]
                for target in targets if isinstance(targets, list) else [targets]:
                    allowed |= {(action, r) for r in _referenced(target, resources)}
    return allowed


def _is_function(value: Any, function: str, resources: dict[str, Any]) -> bool:
    """Whether ``value`` (a FunctionName) is ``function``: a ``Ref`` of it, or of one of
    its aliases (``AutoPublishAlias`` makes ``<Function>Alias<name>``, which SAM's
    event sources then name instead of the function)."""
    if value == {"Ref": function}:
        return True
    ref = value.get("Ref") if isinstance(value, dict) else None
    alias = resources.get(ref) if isinstance(ref, str) else None
    return (
        alias is not None
        and alias["Type"] == "AWS::Lambda::Alias"
        and alias["Properties"].get("FunctionName") == {"Ref": function}
    )


def _may_be(value: Any, wanted: str) -> bool:
    """Whether a property is ``wanted``, or may be under a condition (``Fn::If``)."""
    if isinstance(value, dict) and "Fn::If" in value:
        return any(_may_be(branch, wanted) for branch in value["Fn::If"][1:])
    return bool(value == wanted)


def platform_needs(function: str, resources: dict[str, Any]) -> set[Need]:
    """What AWS itself does with a function's role, read from the template."""
    props = resources[function]["Properties"]
    needs: set[Need] = set()
    group = (props.get("LoggingConfig") or {}).get("LogGroup", {}).get("Ref")
    if group:
        needs |= {("logs:CreateLogStream", group), ("logs:PutLogEvents", group)}
    # Active tracing (here, unless TracingMode is Off): Lambda sends the function's
    # segments with its role; the X-Ray SDK in the function only talks to Lambda's
    # daemon over UDP, so no call of the code shows it.
    if _may_be(props.get("TracingConfig", {}).get("Mode"), "Active"):
        needs |= {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
    destination = (
        (props.get("EventInvokeConfig") or {}).get("DestinationConfig", {}).get("OnFailure", {})
    )
    for resource in resources.values():
        kind, p = resource["Type"], resource.get("Properties", {})
        if not _is_function(p.get("FunctionName"), function, resources):
            continue
        if kind == "AWS::Lambda::EventSourceMapping":
            # The mapping polls with the function's role (what
            # AWSLambdaSQSQueueExecutionRole grants, on this queue only).
            queue = p["EventSourceArn"]["Fn::GetAtt"][0]
            needs |= {
                (f"sqs:{a}", queue)
                for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
            }
        if kind == "AWS::Lambda::EventInvokeConfig":
            destination = p.get("DestinationConfig", {}).get("OnFailure", destination)
    target = destination.get("Destination") if destination else None
    if isinstance(target, dict) and "Fn::GetAtt" in target:
        needs.add(("sqs:SendMessage", target["Fn::GetAtt"][0]))
    return needs


# What EventBridge Scheduler does with a schedule's role, by its target's type.
SCHEDULE_TARGET_ACTIONS = {
    "AWS::Lambda::Function": "lambda:InvokeFunction",
    "AWS::Lambda::Alias": "lambda:InvokeFunction",
    "AWS::SQS::Queue": "sqs:SendMessage",
    "AWS::SNS::Topic": "sns:Publish",
}


def schedule_needs(resources: dict[str, Any]) -> dict[str, dict[Need, str]]:
    """The template's own schedules (SAM makes one, and its role, per ScheduleV2
    event): each role must let Scheduler reach the target and its dead-letter queue."""
    needs: dict[str, dict[Need, str]] = {}
    for schedule, resource in sorted(resources.items()):
        if resource["Type"] != "AWS::Scheduler::Schedule":
            continue
        target = resource["Properties"]["Target"]
        role_id = target["RoleArn"]["Fn::GetAtt"][0]
        dead_letters = (target.get("DeadLetterConfig") or {}).get("Arn")
        for arn in (target["Arn"], dead_letters):
            for logical in _referenced(arn, resources) if arn else ():
                action = SCHEDULE_TARGET_ACTIONS.get(resources[logical]["Type"], "?")
                needs.setdefault(role_id, {})[(action, logical)] = (
                    f"the schedule {schedule} needs {action} on {logical}"
                )
    return needs


def _role_of(function: str, resources: dict[str, Any]) -> str | None:
    role = resources[function]["Properties"].get("Role", {})
    role_id = role.get("Fn::GetAtt", [None])[0] if isinstance(role, dict) else None
    return role_id if role_id in resources else None


Wanted = dict[Need, str]  # each need, with the words that say who needs it and why


def function_needs(function: str, resources: dict[str, Any], calls: Calls) -> Wanted:
    """What a function's role must allow: what Lambda does for it, and its calls."""
    wanted = {
        need: f"Lambda needs {need[0]} on {need[1]} for {function}"
        for need in platform_needs(function, resources)
    }
    for action, name, via in calls.get(function, set()):
        logical = _logical(name, resources)
        wanted[(action, logical)] = f"{function} calls {action} on {logical}"
        if via == iam_recorder.POWERTOOLS_IDEMPOTENCY:
            for also in POWERTOOLS_IDEMPOTENCY_ALL:
                why = f"{function} calls {also} on {logical} (Powertools idempotency)"
                wanted.setdefault((also, logical), why)
    return wanted


def passed_role_needs(resources: dict[str, Any], calls: Calls) -> dict[str, Wanted]:
    """What the roles the functions pass to a service must allow, as recorded."""
    needs: dict[str, Wanted] = {}
    for principal in sorted(p for p in calls if p.startswith(iam_recorder.PASSED_ROLE)):
        role_id = _logical(principal.removeprefix(iam_recorder.PASSED_ROLE), resources)
        for action, name, passer in calls[principal]:
            logical = _logical(name, resources)
            needs.setdefault(role_id, {})[(action, logical)] = (
                f"{passer} passes {role_id} for a schedule, which needs {action} on {logical}"
            )
    return needs


def check(cfn: dict[str, Any], calls: Calls) -> tuple[list[str], list[str]]:
    """(missing, excess): what each role lacks, and what it allows that nothing needs.

    The roles are each function's, each role a function passes to a service (as
    recorded: the one-off schedules' role), and the template's schedules' roles.
    """
    resources = cfn["Resources"]
    needs: dict[str, Wanted] = {}
    users: dict[str, str] = {}  # role -> who uses it, for the excess lines
    functions = [k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"]
    for function in sorted(functions):
        role_id = _role_of(function, resources)
        if role_id is not None:
            users[role_id] = f"nothing {function} does needs it"
            needs.setdefault(role_id, {}).update(function_needs(function, resources, calls))
    for user, found in (
        ("nothing done with it needs it", passed_role_needs(resources, calls)),
        ("nothing its schedules do needs it", schedule_needs(resources)),
    ):
        for role_id, wanted in found.items():
            users.setdefault(role_id, user)
            needs.setdefault(role_id, {}).update(wanted)
    missing: list[str] = []
    excess: list[str] = []
    for role_id, wanted in sorted(needs.items()):
        allowed = role_allows(resources[role_id], resources) if role_id in resources else set()
        missing += [f"{wanted[n]}; {role_id} lacks it" for n in sorted(set(wanted) - allowed)]
        excess += [
            f"{role_id} allows {action} on {logical}; {users[role_id]}"
            for action, logical in sorted(allowed - set(wanted))
        ]
    return missing, excess


# ---------------------------------------------------------------- the session


def transformed_template(path: Path) -> dict[str, Any]:
    """template.yaml as the CloudFormation SAM makes of it (offline, as tests/template)."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            raise AssertionError("the SAM translator asked for AWS managed policies")

    template = copy.deepcopy(yaml_parse(path.read_text(encoding="utf-8")))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://offpath-artifacts/function.zip"
    saved = {k: os.environ.get(k) for k in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE")}
    # The translator takes the Region (for ARNs) from a boto3 session: no call is made.
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    for name in ("AWS_REGION", "AWS_PROFILE"):
        os.environ.pop(name, None)
    try:
        transformed: dict[str, Any] = transform(template, {}, NoManagedPolicies())
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return transformed


def report(template: Path, directory: Path) -> tuple[list[str], list[str]]:
    """Merge what every process of the session recorded, and check the template's roles."""
    return check(transformed_template(template), load(sorted(directory.glob("*.jsonl"))))
