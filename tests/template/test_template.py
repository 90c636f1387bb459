"""template.yaml: cfn-lint, the SAM transform (offline), and the rules the code relies on.

Each test states a rule and checks it on every resource it applies to: a function or
schedule a user adds passes when it follows the rules, whatever it is called. The
jobs' resources are found as offpath finds them (:func:`offpath.location.layout.discover`),
not by name. Most assertions run on the CloudFormation that SAM generates, so they
also catch what SAM adds on its own (roles, managed policies, event source mappings).
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
from tests import iam_calls

from offpath.location.layout import Layout, discover

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"

JsonDict = dict[str, Any]

# SAM's template, parsed once for the parametrizations below.
SAM = yaml_parse(TEMPLATE_PATH.read_text(encoding="utf-8"))
FUNCTIONS = sorted(
    k for k, r in SAM["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
)
QUEUES = sorted(k for k, r in SAM["Resources"].items() if r["Type"] == "AWS::SQS::Queue")
LAYOUT = discover(SAM)
POOLS = sorted(LAYOUT.pools)


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
    return copy.deepcopy(SAM)


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


def value(template: JsonDict, given: Any) -> Any:
    """A property's value: a literal, or the default of the parameter it refers to."""
    if isinstance(given, dict) and set(given) == {"Ref"}:
        return template["Parameters"][given["Ref"]]["Default"]
    return given


def of_type(resources: JsonDict, kind: str) -> dict[str, JsonDict]:
    return {k: r for k, r in resources.items() if r["Type"] == kind}


def event_source_mappings(resources: JsonDict) -> list[JsonDict]:
    return [r["Properties"] for r in of_type(resources, "AWS::Lambda::EventSourceMapping").values()]


def invoked(resources: JsonDict, function_name: JsonDict) -> str:
    """The function a ``FunctionName`` invokes: through its alias `live` (AutoPublishAlias)."""
    alias = resources[function_name["Ref"]]
    assert alias["Type"] == "AWS::Lambda::Alias", "invoked through the published alias"
    name: str = alias["Properties"]["FunctionName"]["Ref"]
    return name


def consumers_of(resources: JsonDict, queue: str) -> list[str]:
    """The functions with an event source mapping on ``queue``."""
    return [
        invoked(resources, m["FunctionName"])
        for m in event_source_mappings(resources)
        if m["EventSourceArn"] == get_att(queue)
    ]


# ---------------------------------------------------------------- lint and transform


def test_cfn_lint_is_clean() -> None:
    # Informational checks too (explicit deletion policies on stateful resources).
    matches = lint_file(TEMPLATE_PATH, ManualArgs(include_checks=["I"]))
    assert [str(match) for match in matches] == []


def test_the_transform_leaves_no_serverless_resource(resources: JsonDict) -> None:
    assert not [
        t for t in (r["Type"] for r in resources.values()) if t.startswith("AWS::Serverless")
    ]


def test_the_jobs_are_found_alike_before_and_after_the_transform(cfn_template: JsonDict) -> None:
    # `--stack-name` reads the deployed (processed) template; offpath dev and the test
    # harness read template.yaml: both must find the same pools, table and group.
    assert discover(cfn_template) == LAYOUT
    assert isinstance(LAYOUT, Layout) and POOLS


# ---------------------------------------------------------------- queues and table


@pytest.mark.parametrize("pool", POOLS)
def test_every_pool_queue_redrives_to_a_dead_letter_queue(
    sam_template: JsonDict, resources: JsonDict, pool: str
) -> None:
    chosen = LAYOUT.pools[pool]
    assert chosen.dead_letter_queue is not None, "jobs that keep failing need somewhere to go"
    redrive = props(resources, chosen.queue)["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == get_att(chosen.dead_letter_queue)
    assert int(value(sam_template, redrive["maxReceiveCount"])) >= 1


@pytest.mark.parametrize("pool", POOLS)
def test_dead_letters_outlive_their_source_queue(resources: JsonDict, pool: str) -> None:
    # SQS keeps a message's original enqueue time when it moves it to the DLQ: a DLQ
    # that keeps messages no longer than its source drops them as they arrive.
    chosen = LAYOUT.pools[pool]
    assert chosen.dead_letter_queue is not None
    source = props(resources, chosen.queue).get("MessageRetentionPeriod", 345600)
    dlq = props(resources, chosen.dead_letter_queue)
    assert dlq.get("MessageRetentionPeriod", 345600) > source
    assert "RedrivePolicy" not in dlq, "a dead-letter queue is where redrive ends"


@pytest.mark.parametrize("queue", QUEUES)
def test_every_queue_is_encrypted(resources: JsonDict, queue: str) -> None:
    queue_props = props(resources, queue)
    assert queue_props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue_props


@pytest.mark.parametrize("queue", QUEUES)
def test_visibility_is_at_least_six_times_each_consumers_timeout(
    resources: JsonDict, queue: str
) -> None:
    # AWS's advice for Lambda SQS consumers: room for retries when a function is
    # throttled, so a message is not received again while its first run is alive.
    visibility = props(resources, queue).get("VisibilityTimeout", 30)
    for function in consumers_of(resources, queue):
        timeout = props(resources, function).get("Timeout", 3)
        assert visibility >= 6 * timeout, f"{queue} is consumed by {function} ({timeout} s)"


def test_the_job_table_has_what_the_store_relies_on(resources: JsonDict) -> None:
    table = props(resources, LAYOUT.table)
    # The store's key and TTL attributes (offpath.store); on-demand, recoverable, encrypted.
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert {"AttributeName": "pk", "AttributeType": "S"} in table["AttributeDefinitions"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


# ---------------------------------------------------------------- workers


@pytest.mark.parametrize("pool", POOLS)
def test_every_worker_reports_batch_item_failures(
    sam_template: JsonDict, resources: JsonDict, pool: str
) -> None:
    # The worker answers with batchItemFailures: without this setting Lambda would
    # delete a whole batch on success, or retry it whole on one failure.
    chosen = LAYOUT.pools[pool]
    (mapping,) = [
        m for m in event_source_mappings(resources) if m["EventSourceArn"] == get_att(chosen.queue)
    ]
    assert invoked(resources, mapping["FunctionName"]) == chosen.function
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    batch_size = int(value(sam_template, mapping.get("BatchSize", 10)))
    window_s = int(value(sam_template, mapping.get("MaximumBatchingWindowInSeconds", 0)))
    assert batch_size <= 10 or window_s >= 1, "over 10 records a batch needs a window (AWS)"
    concurrency = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
    if concurrency is not None:
        assert int(value(sam_template, concurrency)) >= 2, "AWS's minimum"


# ---------------------------------------------------------------- functions


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_traces_on_a_supported_python(resources: JsonDict, function: str) -> None:
    fn = props(resources, function)
    assert re.fullmatch(r"python3\.(1[1-9])", fn["Runtime"]), "offpath needs Python 3.11+"
    # Active unless TracingMode is Off (each mode: tests/template/test_function_options.py).
    assert fn["TracingConfig"] == {"Mode": {"Fn::If": ["TracingIsOff", "PassThrough", "Active"]}}
    assert fn["Role"]["Fn::GetAtt"][1] == "Arn", "a role of its own, written out"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_is_given_the_settings_offpath_reads(
    resources: JsonDict, function: str
) -> None:
    variables = props(resources, function)["Environment"]["Variables"]
    # Where the jobs live, by reference to the template's own resources.
    assert variables["OFFPATH_TABLE_NAME"] == ref(LAYOUT.table)
    queues = {ref(p.queue)["Ref"] for p in LAYOUT.pools.values()}
    assert variables["OFFPATH_QUEUE_URL"]["Ref"] in queues
    # Which modules define the tasks: a literal every entry point imports alike.
    assert isinstance(variables["OFFPATH_TASK_MODULES"], str) and variables["OFFPATH_TASK_MODULES"]


def pools_in_environment(variables: JsonDict) -> dict[str, tuple[str, str]]:
    """pool -> (queue, dead-letter queue), in logical ids, as a function's settings
    name them: OFFPATH_QUEUE_URL/OFFPATH_DLQ_URL the default, OFFPATH_POOLS the others."""
    found = {
        "default": (variables["OFFPATH_QUEUE_URL"]["Ref"], variables["OFFPATH_DLQ_URL"]["Ref"])
    }
    setting = variables.get("OFFPATH_POOLS")
    if setting is not None:
        # `!Sub '{"heavy": {"queue_url": "${HeavyQueue}", ...}}'`: ${X} is X's URL.
        text = re.sub(r"\$\{([A-Za-z0-9]+)\}", r"\1", setting["Fn::Sub"])
        for name, spec in json.loads(text).items():
            found[name] = (spec["queue_url"], spec["dlq_url"])
    return found


@pytest.mark.parametrize("pool", POOLS)
def test_every_worker_dead_letters_to_its_own_queues_dead_letter_queue(
    resources: JsonDict, pool: str
) -> None:
    chosen = LAYOUT.pools[pool]
    assert chosen.dead_letter_queue is not None
    variables = props(resources, chosen.function)["Environment"]["Variables"]
    own = variables.get("OFFPATH_POOL", "default")
    assert own == pool, "the worker's OFFPATH_POOL is its pool's one name"
    assert pools_in_environment(variables)[own] == (chosen.queue, chosen.dead_letter_queue)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_can_send_to_every_pool_by_its_name(
    resources: JsonDict, function: str
) -> None:
    # Producers route a task to its pool by name (@task(pool=...)): every function's
    # settings name exactly the template's pools, each with its own queues.
    variables = props(resources, function)["Environment"]["Variables"]
    expected = {n: (p.queue, p.dead_letter_queue) for n, p in LAYOUT.pools.items()}
    assert pools_in_environment(variables) == expected


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_logs_to_a_group_of_its_own_with_a_retention(
    resources: JsonDict, function: str
) -> None:
    group = props(resources, function)["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources[group]["Type"] == "AWS::Logs::LogGroup"
    assert "RetentionInDays" in props(resources, group)
    others = [
        f
        for f in FUNCTIONS
        if f != function and props(resources, f)["LoggingConfig"]["LogGroup"] == ref(group)
    ]
    assert others == [], "each function's role names its own group"


# ---------------------------------------------------------------- HTTP API


def test_the_routes_that_run_any_task_require_iam(resources: JsonDict) -> None:
    # POST .../jobs enqueues any task by name and DELETE .../jobs/{job_id} cancels
    # any job: only signed callers. Every other route is the app's own business.
    for api in of_type(resources, "AWS::ApiGatewayV2::Api"):
        for path, operations in props(resources, api)["Body"]["paths"].items():
            for method, operation in operations.items():
                generic = (method, path.rsplit("/", 1)[-1]) in {
                    ("post", "jobs"),
                    ("delete", "{job_id}"),
                }
                if generic:
                    assert operation.get("security") == [{"AWS_IAM": []}], (method, path)
                integration = operation["x-amazon-apigateway-integration"]
                assert integration["payloadFormatVersion"] == "2.0", "what Mangum reads"


# ---------------------------------------------------------------- schedules


def schedules(sam_template: JsonDict) -> Iterator[tuple[str, str, JsonDict]]:
    """(function, event id, properties) of every schedule event of the template."""
    for logical_id, resource in sam_template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            for event_id, event in resource["Properties"].get("Events", {}).items():
                if event["Type"] in ("Schedule", "ScheduleV2"):
                    yield logical_id, event_id, {"Type": event["Type"], **event["Properties"]}


SCHEDULES = [f"{function}.{event}" for function, event, _ in schedules(SAM)]


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_schedule_names_a_task_and_dedupes_its_ticks(
    sam_template: JsonDict, schedule: str
) -> None:
    (found,) = [p for f, e, p in schedules(sam_template) if f"{f}.{e}" == schedule]
    payload = json.loads(found["Input"])
    assert isinstance(payload["task"], str) and isinstance(payload.get("args", {}), dict)
    # Every tick has an exact id: Scheduler fills the tick in, so a duplicated
    # delivery and each of Lambda's retries map to the same job id. A rule's Input
    # is constant and carries no tick (a retry a minute later would be a new job).
    assert found["Type"] == "ScheduleV2", "a rule's constant Input cannot carry its tick"
    assert payload["scheduled_time"] == "<aws.scheduler.scheduled-time>"
    # Left to CloudFormation so that two stacks in one account don't clash.
    assert "Name" not in found or found.get("OmitName") is True
    # A tick Scheduler cannot deliver is kept, not dropped.
    assert "Arn" in found.get("DeadLetterConfig", {}), schedule


def failure_destination(sam_template: JsonDict, function: str) -> str:
    """The queue a function's failed asynchronous invocations go to."""
    config = sam_template["Resources"][function]["Properties"].get("EventInvokeConfig", {})
    destination = config.get("DestinationConfig", {}).get("OnFailure", {})
    assert destination.get("Type") == "SQS", f"{function}: no on-failure queue"
    queue: str = destination["Destination"]["Fn::GetAtt"][0]
    return queue


@pytest.mark.parametrize("function", sorted({f for f, _, _ in schedules(SAM)}))
def test_every_scheduled_function_keeps_its_failed_ticks_in_an_alarmed_queue(
    sam_template: JsonDict, resources: JsonDict, function: str
) -> None:
    queue = failure_destination(sam_template, function)
    assert props(resources, queue).get("SqsManagedSseEnabled") or props(resources, queue).get(
        "KmsMasterKeyId"
    )
    alarms = alarms_on(
        resources,
        "ApproximateNumberOfMessagesVisible",
        {"Name": "QueueName", "Value": get_att(queue, "QueueName")},
    )
    assert [(a["Threshold"], a["ComparisonOperator"]) for a in alarms] == [
        (0, "GreaterThanThreshold")
    ]
    for _, event_id, found in schedules(sam_template):
        assert found["DeadLetterConfig"]["Arn"] == get_att(queue), event_id


def task_max_attempts(sam_template: JsonDict) -> int:
    """The most attempts any task of the template's task modules may make."""
    from offpath.runtime import import_task_modules

    variables = sam_template["Globals"]["Function"]["Environment"]["Variables"]
    modules = [n.strip() for n in str(variables["OFFPATH_TASK_MODULES"]).split(",")]
    registry = import_task_modules(modules)
    mine = [t for t in registry if t.fn.__module__ in modules]
    assert mine, f"no task registered by {modules}"
    return max(t.options.max_attempts for t in mine)


@pytest.mark.parametrize("pool", POOLS)
def test_each_queues_redrive_is_a_backstop_far_above_the_attempts(
    sam_template: JsonDict, resources: JsonDict, pool: str
) -> None:
    # Hand-backs (a busy job, too little time left, a backoff not over) count as
    # receives: a redrive near max_attempts sends healthy jobs to the DLQ unrun and
    # without a reason. The worker dead-letters by its own count; SQS's is a backstop.
    queue = LAYOUT.pools[pool].queue
    redrive = props(resources, queue)["RedrivePolicy"]
    receives = int(value(sam_template, redrive["maxReceiveCount"]))
    assert receives >= 10 * task_max_attempts(sam_template)


def schedule_expressions(sam_template: JsonDict) -> Iterator[tuple[str, str, str | None]]:
    """(event id, expression, time zone) of every schedule in the template."""
    for function, event_id, properties in schedules(sam_template):
        if properties["Type"] == "Schedule":
            yield f"{function}.{event_id}", properties["Schedule"], None
        else:
            timezone = properties.get("ScheduleExpressionTimezone")
            yield f"{function}.{event_id}", properties["ScheduleExpression"], timezone
    for logical_id, resource in sam_template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in properties:
            yield logical_id, properties["ScheduleExpression"], None
        elif resource["Type"] == "AWS::Scheduler::Schedule":
            timezone = properties.get("ScheduleExpressionTimezone")
            yield logical_id, properties["ScheduleExpression"], timezone


def test_every_schedule_expression_validates(sam_template: JsonDict) -> None:
    from offpath.cron import ScheduleExpressionError, next_fire_times, validate_expression

    found = list(schedule_expressions(sam_template))
    after = datetime(2026, 6, 1, tzinfo=UTC)
    for name, expression, timezone in found:
        try:
            validate_expression(expression, name=name)
        except ScheduleExpressionError as exc:  # pragma: no cover - the failure message
            pytest.fail(str(exc))
        assert next_fire_times(expression, after, count=1, tz=timezone), name


# ---------------------------------------------------------------- IAM

# What each role may do is checked against what the code does: every AWS call each
# function makes in the suite, what Lambda and Scheduler do with the roles
# (tests/iam_calls.py, at the end of scripts/test). Here, what no recording shows:
# the shape of the statements, the trust, the wildcards.
LOG_STREAMS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${%s}:*"
ONE_OFF_SCHEDULES = (
    "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:"
    "schedule/${JobsScheduleGroup}/*"
)
# Passed by a function to a service (tests/iam_calls.py records what it is used for).
PASSED_ROLES = {"SchedulerRole"}


# The only wildcards allowed, each forced by AWS (see the comment atop template.yaml).
ALLOWED_WILDCARDS: dict[str, set[str]] = {
    # These X-Ray actions have no resource type: IAM accepts only "*".
    "*": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
    # One-off schedules are named per job, within the stack's own group.
    ONE_OFF_SCHEDULES: {
        "scheduler:CreateSchedule",
        "scheduler:DeleteSchedule",
    },
    # Lambda names a log stream per execution environment, within the function's group.
    **{
        LOG_STREAMS % group: {"logs:CreateLogStream", "logs:PutLogEvents"}
        for group in ("ApiLogGroup", "WorkerLogGroup", "HeavyWorkerLogGroup", "SchedulerLogGroup")
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


def test_no_role_has_managed_policies_and_the_iam_check_sees_every_role(
    resources: JsonDict,
) -> None:
    roles = {k: r for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    # Each role is one the least-privilege check sets against what uses it: a
    # function's, one a function passes to a service, or a schedule's.
    functions = {
        props(resources, k)["Role"]["Fn::GetAtt"][0]
        for k, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    schedules = set(iam_calls.schedule_needs(resources))
    assert set(roles) == functions | PASSED_ROLES | schedules
    for logical_id, role in roles.items():
        assert not role["Properties"].get("ManagedPolicyArns"), logical_id
        assert "PermissionsBoundary" not in role["Properties"], logical_id
        for statement in role_statements(role):
            assert statement["Effect"] == "Allow", logical_id  # the check reads allows only
    standalone = {
        k
        for k, r in resources.items()
        if r["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User"}
    }
    # The one exception: JobEvents' conditional PutEvents (its whole content is pinned by
    # test_job_events_are_off_by_default_and_least_privilege_when_on).
    assert standalone <= {"JobEventsPolicy"}


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
        for role_id in (
            "ApiFunctionRole",
            "WorkerFunctionRole",
            "HeavyWorkerFunctionRole",
            "SchedulerFunctionRole",
        )
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


def alarms_on(resources: JsonDict, metric: str, dimension: JsonDict) -> list[JsonDict]:
    return [
        a["Properties"]
        for a in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == metric and dimension in a["Properties"]["Dimensions"]
    ]


@pytest.mark.parametrize("pool", POOLS)
def test_every_pool_alarms_on_dead_letters_and_old_jobs(resources: JsonDict, pool: str) -> None:
    chosen = LAYOUT.pools[pool]
    assert chosen.dead_letter_queue is not None
    dead = alarms_on(
        resources,
        "ApproximateNumberOfMessagesVisible",
        {"Name": "QueueName", "Value": get_att(chosen.dead_letter_queue, "QueueName")},
    )
    assert [(a["Threshold"], a["ComparisonOperator"]) for a in dead] == [
        (0, "GreaterThanThreshold")
    ], "one dead letter is one alarm"
    assert alarms_on(
        resources,
        "ApproximateAgeOfOldestMessage",
        {"Name": "QueueName", "Value": get_att(chosen.queue, "QueueName")},
    )


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_worker_alarms_on_errors_and_throttles(
    resources: JsonDict, pool: str, metric: str
) -> None:
    function = LAYOUT.pools[pool].function
    assert alarms_on(resources, metric, {"Name": "FunctionName", "Value": ref(function)})


def test_every_alarm_notifies_an_encrypted_topic_cloudwatch_may_publish_to(
    resources: JsonDict,
) -> None:
    for logical_id, alarm in of_type(resources, "AWS::CloudWatch::Alarm").items():
        found = alarm["Properties"]
        assert found["TreatMissingData"] == "notBreaching", logical_id
        assert found["AlarmActions"], f"{logical_id} notifies no one"
        for action in found["AlarmActions"]:
            topic = props(resources, action["Ref"])
            # alias/aws/sns would not do: its key policy cannot let CloudWatch publish.
            key = props(resources, topic["KmsMasterKeyId"]["Ref"])
            assert key["EnableKeyRotation"] is True
            grants = [
                s
                for s in key["KeyPolicy"]["Statement"]
                if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
            ]
            assert len(grants) == 1
            assert set(grants[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_alarm_email_subscription_is_optional(sam_template: JsonDict, resources: JsonDict) -> None:
    for name, parameter in sam_template["Parameters"].items():
        if "e-mail" in parameter.get("Description", ""):
            assert parameter["Default"] == "", f"{name}: deploying must not need an address"
    for subscription in of_type(resources, "AWS::SNS::Subscription").values():
        assert "Condition" in subscription


def test_every_dashboard_body_is_json_with_each_pools_depths(resources: JsonDict) -> None:
    for dashboard in of_type(resources, "AWS::CloudWatch::Dashboard").values():
        body, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
        rendered = re.sub(r"\$\{([^}]+)\}", "300", body)  # every placeholder: a number fits
        widgets = json.loads(rendered)["widgets"]
        metrics = {
            (metric[0], metric[1])
            for widget in widgets
            for metric in widget["properties"]["metrics"]
        }
        assert {
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
            ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
            ("AWS/Lambda", "Errors"),
        } <= metrics
        named = {v["Fn::GetAtt"][0] for v in variables.values() if "Fn::GetAtt" in v}
        assert LAYOUT.queues <= named, "each pool's queue and dead-letter queue are shown"


# ---------------------------------------------------------------- outputs


def test_the_outputs_name_where_the_jobs_live(cfn_template: JsonDict) -> None:
    # offpath finds a stack's jobs from its resources; the outputs are for people.
    referenced = json.dumps(cfn_template["Outputs"])
    for logical_id in {LAYOUT.table, *LAYOUT.queues}:
        assert f'"{logical_id}' in referenced, f"no output names {logical_id}"


def test_job_events_are_off_by_default_and_least_privilege_when_on(
    sam_template: JsonDict, resources: JsonDict
) -> None:
    parameter = sam_template["Parameters"]["JobEvents"]
    assert parameter["Default"] == "false" and parameter["Description"]
    assert sam_template["Conditions"]["PublishJobEvents"] == {
        "Fn::Equals": [{"Ref": "JobEvents"}, "true"]
    }
    variables = sam_template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["OFFPATH_EVENTS_BUS"] == {"Fn::If": ["PublishJobEvents", "default", ""]}
    policy = resources["JobEventsPolicy"]
    assert policy["Condition"] == "PublishJobEvents"
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["events:PutEvents"]
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
    }
    assert {role["Ref"] for role in policy["Properties"]["Roles"]} == {
        "ApiFunctionRole",
        "WorkerFunctionRole",
        "HeavyWorkerFunctionRole",
    }
