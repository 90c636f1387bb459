"""Least privilege from what the code does: each function's AWS calls, recorded across
the test suite, against its role in template.yaml.

A handler registered on every botocore session (``BUILTIN_HANDLERS``) records each
call made while a template function runs in the test's process (the harness sets
``AWS_LAMBDA_FUNCTION_NAME`` to its logical id): its IAM action and the template
resource it names. :func:`check` adds what AWS does with the role on the function's
behalf (the SQS event source mapping, logs, X-Ray, the on-failure destination,
Powertools idempotency's documented actions), then reports every action a role
lacks and every action it allows that nothing needs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import botocore.handlers

Need = tuple[str, str]  # (IAM action, template logical id, or "*")

# API operations whose IAM action has another name.
ACTION_OF = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
# Where each service names its resource in a call's parameters.
RESOURCE_PARAMS = ("QueueUrl", "TableName", "GroupName", "SecretId", "FunctionName")
POWERTOOLS_IDEMPOTENCY = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
POWERTOOLS_IDEMPOTENCY_ALL = (*POWERTOOLS_IDEMPOTENCY, "dynamodb:DeleteItem")

# function logical id -> {(action, resource name as called, via)}
recorded: dict[str, set[tuple[str, str, str]]] = {}


def _record(params: dict[str, Any], model: Any, **_: Any) -> None:
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if not function:
        return
    prefix = model.service_model.signing_name
    action = f"{prefix}:{ACTION_OF.get(model.name, model.name)}"
    name = next((str(params[p]) for p in RESOURCE_PARAMS if p in params), "*")
    via = "powertools-idempotency" if _from_powertools_idempotency() else ""
    calls = recorded.setdefault(function, set())
    calls.add((action, name, via))
    role_arn = (params.get("Target") or {}).get("RoleArn")
    if role_arn:  # a schedule's target role is passed to EventBridge Scheduler
        calls.add(("iam:PassRole", str(role_arn), ""))


def _from_powertools_idempotency() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if "aws_lambda_powertools/utilities/idempotency" in frame.f_code.co_filename:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def install() -> None:
    """Record on every botocore session made from now on."""
    entry = ("before-parameter-build", _record)
    if entry not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(entry)


def dump(path: Path) -> None:
    path.write_text(json.dumps({f: sorted(map(list, c)) for f, c in recorded.items()}))


def load(paths: Iterable[Path]) -> dict[str, set[tuple[str, str, str]]]:
    merged: dict[str, set[tuple[str, str, str]]] = {}
    for path in paths:
        for function, calls in json.loads(path.read_text()).items():
            merged.setdefault(function, set()).update(tuple(c) for c in calls)
    return merged


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


def _invoked(target: Any, resources: dict[str, Any]) -> Any:
    """The function a FunctionName names: itself, or through one of its aliases."""
    ref = target.get("Ref") if isinstance(target, dict) else None
    if isinstance(ref, str) and resources.get(ref, {}).get("Type") == "AWS::Lambda::Alias":
        return resources[ref]["Properties"]["FunctionName"]
    return target


def platform_needs(function: str, resources: dict[str, Any]) -> set[Need]:
    """What AWS itself does with a function's role, read from the template."""
    props = resources[function]["Properties"]
    needs: set[Need] = set()
    group = (props.get("LoggingConfig") or {}).get("LogGroup", {}).get("Ref")
    if group:
        needs |= {("logs:CreateLogStream", group), ("logs:PutLogEvents", group)}
    if props.get("TracingConfig", {}).get("Mode") == "Active":
        needs |= {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
    destination = (
        (props.get("EventInvokeConfig") or {}).get("DestinationConfig", {}).get("OnFailure", {})
    )
    for logical_id, resource in resources.items():
        kind, p = resource["Type"], resource.get("Properties", {})
        invoked = _invoked(p.get("FunctionName"), resources)
        if kind == "AWS::Lambda::EventSourceMapping" and invoked == {"Ref": function}:
            queue = p["EventSourceArn"]["Fn::GetAtt"][0]
            needs |= {
                (f"sqs:{a}", queue)
                for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
            }
        if kind == "AWS::Lambda::EventInvokeConfig" and invoked == {"Ref": function}:
            destination = p.get("DestinationConfig", {}).get("OnFailure", destination)
        del logical_id
    target = destination.get("Destination") if destination else None
    if isinstance(target, dict) and "Fn::GetAtt" in target:
        needs.add(("sqs:SendMessage", target["Fn::GetAtt"][0]))
    return needs


def check(
    cfn: dict[str, Any], calls: dict[str, set[tuple[str, str, str]]]
) -> tuple[list[str], list[str]]:
    """(missing, excess): what each function's role lacks, and allows needlessly."""
    resources = cfn["Resources"]
    missing: list[str] = []
    excess: list[str] = []
    functions = [k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"]
    for function in sorted(functions):
        role_ref = resources[function]["Properties"].get("Role", {})
        role_id = role_ref.get("Fn::GetAtt", [None])[0] if isinstance(role_ref, dict) else None
        if role_id not in resources:
            continue
        needs = platform_needs(function, resources)
        for action, name, via in calls.get(function, set()):
            logical = _logical(name, resources)
            needs.add((action, logical))
            if via == "powertools-idempotency":
                needs |= {(a, logical) for a in POWERTOOLS_IDEMPOTENCY_ALL}
        allowed = role_allows(resources[role_id], resources)
        for action, logical in sorted(needs - allowed):
            missing.append(f"{function} calls {action} on {logical}; {role_id} lacks it")
        for action, logical in sorted(allowed - needs):
            excess.append(
                f"{role_id} allows {action} on {logical}; nothing {function} does needs it"
            )
    return missing, excess


# ---------------------------------------------------------------- the session


def transformed_template(path: Path) -> dict[str, Any]:
    """template.yaml as the CloudFormation SAM makes of it (offline, as tests/template)."""
    import copy

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
    """Merge what every test process recorded, and check the template's roles."""
    return check(transformed_template(template), load(sorted(directory.glob("*.json"))))
