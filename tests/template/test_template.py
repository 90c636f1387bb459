"""template.yaml: cfn-lint, the SAM transform (offline), and what the code and operators rely on.

Most assertions run on the CloudFormation that SAM generates, so they also catch
what SAM adds on its own (roles, managed policies, permissions).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

JsonDict = dict[str, Any]

FUNCTIONS = ("ApiFunction", "WorkerFunction", "SchedulerFunction")


# ---------------------------------------------------------------- fixtures


class NoManagedPolicies:
    """Stands in for samtranslator's ManagedPolicyLoader, which lists IAM policies over the network.

    The template names no AWS managed policy and no SAM policy template, so the
    translator never needs the map; if it ever does, the test says so.
    """

    def load(self) -> dict[str, str]:
        raise AssertionError("the SAM translator asked for AWS managed policies (a network call)")


@pytest.fixture(scope="module")
def sam_template() -> JsonDict:
    """template.yaml with its short-form intrinsics (!Ref, !Sub...) as plain dicts."""
    parsed: JsonDict = yaml_parse(TEMPLATE_PATH.read_text(encoding="utf-8"))
    return parsed


@pytest.fixture(scope="module")
def cfn_template(sam_template: JsonDict) -> JsonDict:
    """The CloudFormation that SAM generates, transformed offline.

    `sam package` turns the local CodeUri into an S3 location, and the translator
    only accepts the latter, so any S3 URI stands in for it.
    """
    template = copy.deepcopy(sam_template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://offpath-artifacts/function.zip"
    with pytest.MonkeyPatch.context() as mp:
        # The translator takes the Region (for ARNs) from a boto3 session: no
        # credentials, no profile and no call are involved.
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.delenv("AWS_REGION", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        transformed: JsonDict = transform(template, {}, NoManagedPolicies())
    return transformed


@pytest.fixture(scope="module")
def resources(cfn_template: JsonDict) -> JsonDict:
    found: JsonDict = cfn_template["Resources"]
    return found


def props(resources: JsonDict, logical_id: str) -> JsonDict:
    properties: JsonDict = resources[logical_id]["Properties"]
    return properties


def get_att(logical_id: str, attribute: str = "Arn") -> JsonDict:
    return {"Fn::GetAtt": [logical_id, attribute]}


def ref(name: str) -> JsonDict:
    return {"Ref": name}


def parameter_default(template: JsonDict, name: str) -> int:
    return int(template["Parameters"][name]["Default"])


# ---------------------------------------------------------------- lint and transform


def test_cfn_lint_is_clean() -> None:
    # Informational checks too (explicit deletion policies on stateful resources).
    matches = lint_file(TEMPLATE_PATH, ManualArgs(include_checks=["I"]))
    assert [str(match) for match in matches] == []


def test_sam_transform_makes_the_expected_resources(resources: JsonDict) -> None:
    types = {logical_id: resource["Type"] for logical_id, resource in resources.items()}
    expected = {
        "HttpApi": "AWS::ApiGatewayV2::Api",
        "ApiFunction": "AWS::Lambda::Function",
        "WorkerFunction": "AWS::Lambda::Function",
        "SchedulerFunction": "AWS::Lambda::Function",
        "JobsQueue": "AWS::SQS::Queue",
        "JobsDeadLetterQueue": "AWS::SQS::Queue",
        "JobsTable": "AWS::DynamoDB::Table",
        "JobsScheduleGroup": "AWS::Scheduler::ScheduleGroup",
        "SchedulerRole": "AWS::IAM::Role",
        "AlarmTopic": "AWS::SNS::Topic",
        "JobsDashboard": "AWS::CloudWatch::Dashboard",
        "DeadLetterQueueAlarm": "AWS::CloudWatch::Alarm",
        "QueueAgeAlarm": "AWS::CloudWatch::Alarm",
        "WorkerErrorsAlarm": "AWS::CloudWatch::Alarm",
        "WorkerThrottlesAlarm": "AWS::CloudWatch::Alarm",
    }
    assert {key: types.get(key) for key in expected} == expected
    assert not any(t.startswith("AWS::Serverless::") for t in types.values())


# ---------------------------------------------------------------- queues and table


def test_jobs_queue_redrives_to_the_dead_letter_queue(
    sam_template: JsonDict, resources: JsonDict
) -> None:
    redrive = props(resources, "JobsQueue")["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": get_att("JobsDeadLetterQueue"),
        "maxReceiveCount": ref("MaxReceiveCount"),
    }
    assert parameter_default(sam_template, "MaxReceiveCount") == 5


def test_dead_letter_queue_keeps_messages_14_days(resources: JsonDict) -> None:
    dlq = props(resources, "JobsDeadLetterQueue")
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert "RedrivePolicy" not in dlq


@pytest.mark.parametrize("queue", ["JobsQueue", "JobsDeadLetterQueue"])
def test_queues_are_encrypted(resources: JsonDict, queue: str) -> None:
    assert props(resources, queue)["SqsManagedSseEnabled"] is True


def test_visibility_timeout_is_at_least_six_worker_timeouts(resources: JsonDict) -> None:
    visibility = props(resources, "JobsQueue")["VisibilityTimeout"]
    worker_timeout = props(resources, "WorkerFunction")["Timeout"]
    assert isinstance(visibility, int)
    assert isinstance(worker_timeout, int)
    assert worker_timeout == 60
    assert visibility >= 6 * worker_timeout


def test_jobs_table(resources: JsonDict) -> None:
    table = props(resources, "JobsTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}


# ---------------------------------------------------------------- worker


def test_worker_event_source_mapping(sam_template: JsonDict, resources: JsonDict) -> None:
    mappings = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 1
    mapping = mappings[0]["Properties"]
    assert mapping["EventSourceArn"] == get_att("JobsQueue")
    assert mapping["FunctionName"] == ref("WorkerFunction")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == ref("WorkerBatchSize")
    assert mapping["MaximumBatchingWindowInSeconds"] == ref("WorkerBatchingWindowSeconds")
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": ref("WorkerMaxConcurrency")}
    defaults = {
        name: parameter_default(sam_template, name)
        for name in ("WorkerBatchSize", "WorkerBatchingWindowSeconds", "WorkerMaxConcurrency")
    }
    assert defaults == {
        "WorkerBatchSize": 10,
        "WorkerBatchingWindowSeconds": 1,
        "WorkerMaxConcurrency": 5,
    }


# ---------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("function", "handler", "service"),
    [
        ("ApiFunction", "functions.api.handler.handler", "offpath-api"),
        ("WorkerFunction", "functions.worker.handler.handler", "offpath-worker"),
        ("SchedulerFunction", "functions.scheduler.handler.handler", "offpath-scheduler"),
    ],
)
def test_function_configuration(
    sam_template: JsonDict, resources: JsonDict, function: str, handler: str, service: str
) -> None:
    fn = props(resources, function)
    assert fn["Handler"] == handler
    assert fn["Runtime"] == "python3.12"
    assert fn["Architectures"] == ["x86_64"]
    assert fn["MemorySize"] == 512
    assert fn["TracingConfig"] == {"Mode": "Active"}
    assert fn["Role"] == get_att(f"{function}Role")
    assert sam_template["Resources"][function]["Metadata"] == {"BuildMethod": "makefile"}
    assert sam_template["Resources"][function]["Properties"]["CodeUri"] == "."
    assert fn["Environment"]["Variables"] == {
        "OFFPATH_QUEUE_URL": ref("JobsQueue"),
        "OFFPATH_QUEUE_ARN": get_att("JobsQueue"),
        "OFFPATH_DLQ_URL": ref("JobsDeadLetterQueue"),
        "OFFPATH_TABLE_NAME": ref("JobsTable"),
        "OFFPATH_SCHEDULER_GROUP": ref("JobsScheduleGroup"),
        "OFFPATH_SCHEDULER_ROLE_ARN": get_att("SchedulerRole"),
        "OFFPATH_SCHEDULER_DLQ_ARN": get_att("JobsDeadLetterQueue"),
        "OFFPATH_API_AUTH": "iam",
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": "offpath",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


@pytest.mark.parametrize(
    ("function", "log_group"),
    [
        ("ApiFunction", "ApiLogGroup"),
        ("WorkerFunction", "WorkerLogGroup"),
        ("SchedulerFunction", "SchedulerLogGroup"),
    ],
)
def test_functions_log_to_their_own_group(
    resources: JsonDict, function: str, log_group: str
) -> None:
    assert props(resources, function)["LoggingConfig"] == {"LogGroup": ref(log_group)}
    assert props(resources, log_group)["RetentionInDays"] == ref("LogRetentionDays")


# ---------------------------------------------------------------- HTTP API


def test_only_the_internal_job_routes_require_iam(resources: JsonDict) -> None:
    paths = props(resources, "HttpApi")["Body"]["paths"]
    security = {
        (path, method): operation.get("security")
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    assert security == {
        ("/jobs", "post"): [{"AWS_IAM": []}],
        ("/jobs/{job_id}", "delete"): [{"AWS_IAM": []}],
        ("/{proxy+}", "x-amazon-apigateway-any-method"): None,
        ("/", "x-amazon-apigateway-any-method"): None,
    }
    for operations in paths.values():
        for operation in operations.values():
            integration = operation["x-amazon-apigateway-integration"]
            assert integration["payloadFormatVersion"] == "2.0"
            assert "${ApiFunction.Arn}" in integration["uri"]["Fn::Sub"]


# ---------------------------------------------------------------- schedules


def test_schedules_pass_their_task_as_input(resources: JsonDict) -> None:
    rule = props(resources, "SchedulerFunctionDailyDigest")
    assert rule["ScheduleExpression"] == "cron(0 8 * * ? *)"
    (target,) = rule["Targets"]
    assert target["Arn"] == get_att("SchedulerFunction")
    assert json.loads(target["Input"]) == {
        "task": "send_daily_digest",
        "args": {},
        "schedule": "DailyDigest",
    }

    schedule = props(resources, "SchedulerFunctionExchangeRates")
    assert schedule["ScheduleExpression"] == "cron(0 */6 ? * MON-FRI *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["Target"]["Arn"] == get_att("SchedulerFunction")
    assert json.loads(schedule["Target"]["Input"]) == {
        "task": "sync_exchange_rates",
        "args": {},
        "schedule": "ExchangeRates",
        # Filled in by EventBridge Scheduler at each tick: the job id's time.
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }
    # Left to CloudFormation so that two stacks in one account don't clash.
    assert "Name" not in schedule


def schedule_expressions(sam_template: JsonDict) -> Iterator[tuple[str, str, str | None]]:
    """(event id, expression, time zone) of every schedule in the template."""
    for logical_id, resource in sam_template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            for event_id, event in resource["Properties"].get("Events", {}).items():
                properties = event["Properties"]
                if event["Type"] == "Schedule":
                    yield f"{logical_id}.{event_id}", properties["Schedule"], None
                elif event["Type"] == "ScheduleV2":
                    timezone = properties.get("ScheduleExpressionTimezone")
                    yield f"{logical_id}.{event_id}", properties["ScheduleExpression"], timezone
        elif resource["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in resource.get(
            "Properties", {}
        ):
            yield logical_id, resource["Properties"]["ScheduleExpression"], None
        elif resource["Type"] == "AWS::Scheduler::Schedule":
            properties = resource["Properties"]
            timezone = properties.get("ScheduleExpressionTimezone")
            yield logical_id, properties["ScheduleExpression"], timezone


def test_every_schedule_expression_validates(sam_template: JsonDict) -> None:
    from offpath.cron import ScheduleExpressionError, next_fire_times, validate_expression

    found = list(schedule_expressions(sam_template))
    assert {name for name, _, _ in found} == {
        "SchedulerFunction.DailyDigest",
        "SchedulerFunction.ExchangeRates",
    }
    after = datetime(2026, 6, 1, tzinfo=UTC)
    for name, expression, timezone in found:
        try:
            validate_expression(expression, name=name)
        except ScheduleExpressionError as exc:  # pragma: no cover - the failure message
            pytest.fail(str(exc))
        assert next_fire_times(expression, after, count=1, tz=timezone), name


# ---------------------------------------------------------------- IAM

# Exactly what each role may do: role -> action -> resources. Resources are
# written as the template writes them (Fn::GetAtt / Fn::Sub / "*").
LOG_STREAMS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${%s}:*"
ONE_OFF_SCHEDULES = (
    "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:"
    "schedule/${JobsScheduleGroup}/*"
)
XRAY = {"xray:PutTraceSegments": ["*"], "xray:PutTelemetryRecords": ["*"]}
DYNAMODB_CRUD = (
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)


def logs(log_group: str) -> dict[str, list[Any]]:
    pattern = {"Fn::Sub": LOG_STREAMS % log_group}
    return {"logs:CreateLogStream": [pattern], "logs:PutLogEvents": [pattern]}


EXPECTED_PERMISSIONS: dict[str, dict[str, list[Any]]] = {
    "ApiFunctionRole": {
        **logs("ApiLogGroup"),
        **XRAY,
        "sqs:SendMessage": [get_att("JobsQueue")],
        **{action: [get_att("JobsTable")] for action in DYNAMODB_CRUD},
        "scheduler:CreateSchedule": [{"Fn::Sub": ONE_OFF_SCHEDULES}],
        "scheduler:DeleteSchedule": [{"Fn::Sub": ONE_OFF_SCHEDULES}],
        "scheduler:GetSchedule": [{"Fn::Sub": ONE_OFF_SCHEDULES}],
        "iam:PassRole": [get_att("SchedulerRole")],
    },
    "WorkerFunctionRole": {
        **logs("WorkerLogGroup"),
        **XRAY,
        "sqs:ReceiveMessage": [get_att("JobsQueue")],
        "sqs:DeleteMessage": [get_att("JobsQueue")],
        "sqs:GetQueueAttributes": [get_att("JobsQueue")],
        "sqs:ChangeMessageVisibility": [get_att("JobsQueue")],
        "sqs:SendMessage": [get_att("JobsDeadLetterQueue")],
        **{action: [get_att("JobsTable")] for action in DYNAMODB_CRUD},
    },
    "SchedulerFunctionRole": {
        **logs("SchedulerLogGroup"),
        **XRAY,
        "sqs:SendMessage": [get_att("JobsQueue")],
        "dynamodb:PutItem": [get_att("JobsTable")],
    },
    # Assumed by EventBridge Scheduler for the one-off schedules the API creates.
    "SchedulerRole": {
        "sqs:SendMessage": [get_att("JobsQueue"), get_att("JobsDeadLetterQueue")],
    },
    # Generated by SAM for the ExchangeRates ScheduleV2 event.
    "SchedulerFunctionExchangeRatesRole": {
        "lambda:InvokeFunction": [get_att("SchedulerFunction")],
    },
}

# The only wildcards allowed, each forced by AWS (see the comment atop template.yaml).
ALLOWED_WILDCARDS: dict[str, set[str]] = {
    # These X-Ray actions have no resource type: IAM accepts only "*".
    "*": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
    # One-off schedules are named per job, within the stack's own group.
    ONE_OFF_SCHEDULES: {
        "scheduler:CreateSchedule",
        "scheduler:DeleteSchedule",
        "scheduler:GetSchedule",
    },
    # Lambda names a log stream per execution environment, within the function's group.
    **{
        LOG_STREAMS % group: {"logs:CreateLogStream", "logs:PutLogEvents"}
        for group in ("ApiLogGroup", "WorkerLogGroup", "SchedulerLogGroup")
    },
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def role_statements(role: JsonDict) -> Iterator[JsonDict]:
    for policy in role["Properties"].get("Policies", []):
        yield from as_list(policy["PolicyDocument"]["Statement"])


def role_permissions(role: JsonDict) -> dict[str, set[str]]:
    permissions: dict[str, set[str]] = {}
    for statement in role_statements(role):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            permissions.setdefault(action, set()).update(
                canonical(resource) for resource in as_list(statement["Resource"])
            )
    return permissions


def test_no_role_has_managed_policies_and_all_roles_are_known(resources: JsonDict) -> None:
    roles = {k: r for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    assert set(roles) == set(EXPECTED_PERMISSIONS)
    for logical_id, role in roles.items():
        assert not role["Properties"].get("ManagedPolicyArns"), logical_id
        assert "PermissionsBoundary" not in role["Properties"], logical_id
    standalone = {
        k
        for k, r in resources.items()
        if r["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User"}
    }
    assert standalone == set()


@pytest.mark.parametrize("role_id", sorted(EXPECTED_PERMISSIONS))
def test_role_permissions_are_exactly_the_expected_ones(resources: JsonDict, role_id: str) -> None:
    expected = {
        action: {canonical(resource) for resource in resources_}
        for action, resources_ in EXPECTED_PERMISSIONS[role_id].items()
    }
    assert role_permissions(resources[role_id]) == expected


def wildcard_problems(resources: JsonDict) -> list[str]:
    """Every wildcard action, and every wildcard resource not in ALLOWED_WILDCARDS."""
    problems: list[str] = []
    roles = {k: r for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    for role_id, role in roles.items():
        for statement in role_statements(role):
            where = f"{role_id}/{statement.get('Sid', '?')}"
            if "NotAction" in statement or "NotResource" in statement:
                problems.append(f"{where}: NotAction/NotResource")
            actions = set(as_list(statement.get("Action", [])))
            problems += [f"{where}: wildcard action {a}" for a in actions if "*" in a]
            for resource in as_list(statement.get("Resource", [])):
                text = resource if isinstance(resource, str) else resource.get("Fn::Sub")
                if not isinstance(text, str) or "*" not in text:
                    continue
                allowed = ALLOWED_WILDCARDS.get(text)
                if allowed is None or not actions <= allowed:
                    problems.append(f"{where}: {sorted(actions)} on {text}")
    return problems


def test_no_wildcards_beyond_the_documented_ones(resources: JsonDict) -> None:
    assert wildcard_problems(resources) == []


def test_the_wildcard_check_catches_wildcards() -> None:
    """The check above would flag a widened statement (guards the guard)."""
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Policies": [
                {
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": "sqs:*", "Resource": "x"},
                            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"},
                            {
                                "Effect": "Allow",
                                "Action": "xray:GetSamplingRules",
                                "Resource": "*",
                            },
                            {
                                "Effect": "Allow",
                                "Action": "dynamodb:Query",
                                "Resource": {"Fn::Sub": ONE_OFF_SCHEDULES},
                            },
                        ]
                    }
                }
            ]
        },
    }
    problems = wildcard_problems({"Widened": role})
    assert len(problems) == 4
    fragments = ("wildcard action sqs:*", "sqs:SendMessage", "GetSamplingRules", "Query")
    for problem, fragment in zip(problems, fragments, strict=True):
        assert fragment in problem


def test_roles_trust_only_their_service(resources: JsonDict) -> None:
    principals = {
        role_id: [
            (s["Principal"], s.get("Condition"))
            for s in resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        ]
        for role_id in ("ApiFunctionRole", "WorkerFunctionRole", "SchedulerFunctionRole")
    }
    for statements in principals.values():
        assert statements == [({"Service": "lambda.amazonaws.com"}, None)]
    trust = resources["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
        }
    ]


def test_api_may_pass_the_scheduler_role_to_scheduler_only(resources: JsonDict) -> None:
    (statement,) = [
        s
        for s in role_statements(resources["ApiFunctionRole"])
        if "iam:PassRole" in as_list(s["Action"])
    ]
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }


def test_worker_cannot_touch_scheduler_or_fastapi_permissions(resources: JsonDict) -> None:
    actions = role_permissions(resources["WorkerFunctionRole"])
    assert not [a for a in actions if a.startswith(("scheduler:", "iam:"))]


# ---------------------------------------------------------------- monitoring


def alarm(resources: JsonDict, logical_id: str) -> JsonDict:
    assert resources[logical_id]["Type"] == "AWS::CloudWatch::Alarm"
    return props(resources, logical_id)


@pytest.mark.parametrize(
    ("logical_id", "namespace", "metric", "dimension", "threshold"),
    [
        (
            "DeadLetterQueueAlarm",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"Name": "QueueName", "Value": get_att("JobsDeadLetterQueue", "QueueName")},
            0,
        ),
        (
            "QueueAgeAlarm",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            {"Name": "QueueName", "Value": get_att("JobsQueue", "QueueName")},
            ref("QueueAgeAlarmSeconds"),
        ),
        (
            "WorkerErrorsAlarm",
            "AWS/Lambda",
            "Errors",
            {"Name": "FunctionName", "Value": ref("WorkerFunction")},
            0,
        ),
        (
            "WorkerThrottlesAlarm",
            "AWS/Lambda",
            "Throttles",
            {"Name": "FunctionName", "Value": ref("WorkerFunction")},
            0,
        ),
    ],
)
def test_alarms(
    resources: JsonDict,
    logical_id: str,
    namespace: str,
    metric: str,
    dimension: JsonDict,
    threshold: Any,
) -> None:
    found = alarm(resources, logical_id)
    assert found["Namespace"] == namespace
    assert found["MetricName"] == metric
    assert found["Dimensions"] == [dimension]
    assert found["Threshold"] == threshold
    assert found["ComparisonOperator"] == "GreaterThanThreshold"
    assert found["TreatMissingData"] == "notBreaching"
    assert found["AlarmActions"] == [ref("AlarmTopic")]


def test_queue_age_alarm_default(sam_template: JsonDict) -> None:
    assert parameter_default(sam_template, "QueueAgeAlarmSeconds") == 300


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(resources: JsonDict) -> None:
    # alias/aws/sns would not do: its key policy cannot let CloudWatch publish alarms.
    assert props(resources, "AlarmTopic")["KmsMasterKeyId"] == ref("AlarmTopicKey")
    key = props(resources, "AlarmTopicKey")
    assert key["EnableKeyRotation"] is True
    grants = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(grants) == 1
    assert set(grants[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_alarm_email_subscription_is_optional(sam_template: JsonDict, resources: JsonDict) -> None:
    assert sam_template["Parameters"]["AlarmEmail"]["Default"] == ""
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Protocol"] == "email"


def test_dashboard_body_is_json_and_shows_the_queues_and_the_worker(
    resources: JsonDict,
) -> None:
    body, variables = props(resources, "JobsDashboard")["DashboardBody"]["Fn::Sub"]
    assert set(variables) == {"QueueName", "DeadLetterQueueName"}
    placeholders = set(re.findall(r"\$\{([^}]+)\}", body))
    assert placeholders == {
        "AWS::Region",
        "QueueName",
        "DeadLetterQueueName",
        "WorkerFunction",
        "QueueAgeAlarmSeconds",
    }
    values = {name: "300" if name == "QueueAgeAlarmSeconds" else "x" for name in placeholders}
    rendered = re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], body)
    widgets = json.loads(rendered)["widgets"]
    metrics = {
        (metric[0], metric[1]) for widget in widgets for metric in widget["properties"]["metrics"]
    }
    assert {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "Errors"),
    } <= metrics
    assert '"QueueName", "${DeadLetterQueueName}"' in body


# ---------------------------------------------------------------- outputs


def test_outputs(cfn_template: JsonDict) -> None:
    outputs = cfn_template["Outputs"]
    assert set(outputs) == {
        "ApiUrl",
        "JobsQueueUrl",
        "JobsQueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "DeadLetterQueueConsoleUrl",
        "JobsTableName",
        "ScheduleGroupName",
    }
    assert outputs["JobsQueueUrl"]["Value"] == ref("JobsQueue")
    assert outputs["DeadLetterQueueArn"]["Value"] == get_att("JobsDeadLetterQueue")
    assert outputs["ScheduleGroupName"]["Value"] == ref("JobsScheduleGroup")
    console = outputs["DeadLetterQueueConsoleUrl"]["Value"]["Fn::Sub"]
    assert console == (
        "https://${AWS::Region}.console.aws.amazon.com/sqs/v3/home?region=${AWS::Region}"
        "#/queues/https%3A%2F%2Fsqs.${AWS::Region}.${AWS::URLSuffix}%2F${AWS::AccountId}"
        "%2F${JobsDeadLetterQueue.QueueName}"
    )
