"""The topology of ``template.yaml``, resolved for local use.

:func:`read_topology` turns the template into plain specs: queues, tables, functions
with their event sources. Anything the emulator cannot honour is an error that
names it, and resources that have no local effect (alarms, dashboards, IAM) are
listed in :attr:`Topology.not_emulated` so the emulator can say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offpath.local.template import (
    NO_VALUE,
    Resolver,
    TemplateError,
    check_rules,
    load_template,
    parameter_defaults,
)

EMULATED = {
    "AWS::SQS::Queue",
    "AWS::DynamoDB::Table",
    "AWS::Serverless::Function",
    "AWS::Serverless::HttpApi",
    "AWS::Scheduler::ScheduleGroup",
    "AWS::SecretsManager::Secret",
}
# Real on AWS, nothing to do on a laptop: reported at start, never silently dropped.
NO_LOCAL_EFFECT = {
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::Logs::LogGroup",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::Lambda::Permission",
}
SQS_ATTRIBUTES = {
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedrivePolicy",
    "RedriveAllowPolicy",
}
SQS_EVENT_KEYS = {
    "Queue",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
    "ProvisionedPollerConfig",
    "Enabled",
}
SCHEDULE_KEYS = {
    "Schedule",
    "Input",
    "Enabled",
    "State",
    "Name",
    "Description",
    "RetryPolicy",
    "DeadLetterConfig",
}
SCHEDULE_V2_KEYS = {
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "Input",
    "State",
    "Name",
    "Description",
    "GroupName",
    "FlexibleTimeWindow",
    "RetryPolicy",
    "DeadLetterConfig",
    "StartDate",
    "EndDate",
    "OmitName",
    "KmsKeyArn",
    "RoleArn",
    "PermissionsBoundary",
}
HTTP_EVENT_KEYS = {"ApiId", "Path", "Method", "Auth", "PayloadFormatVersion", "TimeoutInMillis"}


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    attributes: dict[str, str]  # every attribute, RedrivePolicy included, as SQS takes them


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str
    create: dict[str, Any]  # CreateTable keyword arguments
    ttl_attribute: str | None
    point_in_time_recovery: bool


@dataclass(frozen=True)
class SqsEventSpec:
    name: str
    queue: str  # logical id
    batch_size: int
    batching_window_s: float
    max_concurrency: int | None
    report_batch_item_failures: bool
    enabled: bool


@dataclass(frozen=True)
class RetryPolicy:
    """How EventBridge (rules and Scheduler) retries delivering to a target that failed.

    The defaults are AWS's: 185 retries over at most 24 hours.
    """

    max_retries: int = 185
    max_event_age_s: int = 86_400


@dataclass(frozen=True)
class Destination:
    """Where an outcome goes: ``kind`` SQS, SNS, Lambda or EventBridge, and its ARN."""

    kind: str
    arn: str


@dataclass(frozen=True)
class AsyncConfig:
    """How Lambda runs the function when invoked asynchronously (schedules do so).

    ``EventInvokeConfig`` and ``DeadLetterQueue`` of the template; the defaults are
    Lambda's: two retries, events kept up to 6 hours.
    """

    max_retries: int = 2
    max_event_age_s: int = 21_600
    on_success: Destination | None = None
    on_failure: Destination | None = None
    dead_letter: Destination | None = None


@dataclass(frozen=True)
class ScheduleSpec:
    function: str  # logical id
    name: str  # the event's logical name; AWS names the rule/schedule after it
    kind: str  # "Schedule" (EventBridge rule) or "ScheduleV2" (EventBridge Scheduler)
    expression: str
    timezone: str | None
    input: str | None
    enabled: bool
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    dead_letter_arn: str | None = None
    flexible_window_s: float = 0.0  # FlexibleTimeWindow FLEXIBLE: fire up to this late


@dataclass(frozen=True)
class RouteSpec:
    name: str
    method: str
    path: str
    auth: str | None


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    code_uri: str
    timeout_s: float
    memory_mb: int
    environment: dict[str, str]
    runtime: str = "python3.12"
    build_method: str | None = None  # Metadata.BuildMethod ("makefile"), None: SAM's default
    async_config: AsyncConfig = field(default_factory=AsyncConfig)
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions: most at once
    sqs_events: list[SqsEventSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)


@dataclass
class Topology:
    """Everything the emulator runs, resolved from the template."""

    stack_name: str
    region: str
    account_id: str
    queues: dict[str, QueueSpec]
    tables: dict[str, TableSpec]
    functions: dict[str, FunctionSpec]
    schedule_groups: dict[str, str]  # logical id -> name
    not_emulated: list[str]
    resolver: Resolver
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> name

    def function_with_sqs_event(self, queue_logical_id: str) -> FunctionSpec | None:
        for spec in self.functions.values():
            if any(e.queue == queue_logical_id for e in spec.sqs_events):
                return spec
        return None


def queue_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


def read_topology(
    path: Path,
    *,
    stack_name: str = "offpath",
    region: str = "us-east-1",
    account_id: str = "123456789012",
    parameters: dict[str, Any] | None = None,
    queue_urls: dict[str, str] | None = None,
) -> Topology:
    """Resolve the template. ``queue_urls`` (logical id -> URL) fills ``!Ref`` of queues.

    Raises:
        TemplateError: a resource type, event type or property offpath cannot emulate.
    """
    template = load_template(path)
    resources: dict[str, Any] = template["Resources"]
    values = parameter_defaults(template, parameters or {})
    check_rules(template, values)
    resolver = Resolver(
        parameters=values,
        pseudo={
            "AWS::StackName": stack_name,
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        },
        conditions=template.get("Conditions", {}),
    )
    not_emulated = _check_types(resources)
    _name_everything(resources, resolver, stack_name, region, account_id, queue_urls or {})
    globals_fn = template.get("Globals", {}).get("Function", {})
    return Topology(
        stack_name=stack_name,
        region=region,
        account_id=account_id,
        queues={
            lid: _queue(lid, r, resolver)
            for lid, r in resources.items()
            if r["Type"] == "AWS::SQS::Queue"
        },
        tables={
            lid: _table(lid, r, resolver)
            for lid, r in resources.items()
            if r["Type"] == "AWS::DynamoDB::Table"
        },
        functions={
            lid: _function(lid, r, globals_fn, resolver)
            for lid, r in resources.items()
            if r["Type"] == "AWS::Serverless::Function"
        },
        schedule_groups={
            lid: resolver.refs[lid]
            for lid, r in resources.items()
            if r["Type"] == "AWS::Scheduler::ScheduleGroup"
        },
        not_emulated=not_emulated,
        resolver=resolver,
        secrets={
            lid: resolver.refs[lid]
            for lid, r in resources.items()
            if r["Type"] == "AWS::SecretsManager::Secret"
        },
    )


def _check_types(resources: dict[str, Any]) -> list[str]:
    skipped = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type", "")
        if kind in NO_LOCAL_EFFECT:
            skipped.append(f"{logical_id} ({kind})")
        elif kind not in EMULATED:
            raise TemplateError(
                f"{logical_id}: resource type {kind} is not supported by offpath dev"
            )
    return skipped


def _name_everything(
    resources: dict[str, Any],
    resolver: Resolver,
    stack: str,
    region: str,
    account: str,
    queue_urls: dict[str, str],
) -> None:
    """Give every resource the names and ARNs that ``!Ref``/``!GetAtt`` will see."""
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::SQS::Queue":
            name = resolver.resolve(props.get("QueueName")) or f"{stack}-{logical_id}"
            arn = queue_arn(region, account, name)
            resolver.refs[logical_id] = queue_urls.get(logical_id, name)
            resolver.attrs[(logical_id, "Arn")] = arn
            resolver.attrs[(logical_id, "QueueName")] = name
            resolver.attrs[(logical_id, "QueueUrl")] = resolver.refs[logical_id]
            continue
        name = _physical_name(kind, props, resolver) or f"{stack}-{logical_id}"
        resolver.refs[logical_id] = name
        resolver.attrs[(logical_id, "Arn")] = _arn(kind, name, region, account)
        if kind == "AWS::Serverless::HttpApi":
            resolver.refs[logical_id] = f"{stack}-api"


def _arn(kind: str, name: str, region: str, account: str) -> str:
    resource = {
        "AWS::DynamoDB::Table": f"dynamodb:{region}:{account}:table/{name}",
        "AWS::IAM::Role": f"iam::{account}:role/{name}",
        "AWS::Scheduler::ScheduleGroup": f"scheduler:{region}:{account}:schedule-group/{name}",
        "AWS::Serverless::Function": f"lambda:{region}:{account}:function:{name}",
        "AWS::KMS::Key": f"kms:{region}:{account}:key/{name}",
    }.get(kind, f"{kind.split('::')[1].lower()}:{region}:{account}:{name}")
    return f"arn:aws:{resource}"


def _physical_name(kind: str, props: dict[str, Any], resolver: Resolver) -> str | None:
    key = {
        "AWS::DynamoDB::Table": "TableName",
        "AWS::Scheduler::ScheduleGroup": "Name",
        "AWS::SNS::Topic": "TopicName",
        "AWS::IAM::Role": "RoleName",
        "AWS::Serverless::Function": "FunctionName",
        "AWS::SecretsManager::Secret": "Name",
    }.get(kind)
    if key is None or key not in props:
        return None
    value = resolver.resolve(props[key])
    return str(value) if value else None


def _queue(logical_id: str, resource: dict[str, Any], resolver: Resolver) -> QueueSpec:
    props = resolver.resolve(resource.get("Properties", {}))
    attributes: dict[str, str] = {}
    for key, value in props.items():
        if key in ("QueueName", "Tags"):
            continue
        if key not in SQS_ATTRIBUTES:
            raise TemplateError(f"{logical_id}: queue property {key} is not supported locally")
        if isinstance(value, dict | list):
            attributes[key] = json.dumps(value)
        elif isinstance(value, bool):
            attributes[key] = str(value).lower()
        else:
            attributes[key] = str(value)
    return QueueSpec(logical_id, resolver.attrs[(logical_id, "QueueName")], attributes)


def _table(logical_id: str, resource: dict[str, Any], resolver: Resolver) -> TableSpec:
    props = resolver.resolve(resource.get("Properties", {}))
    allowed = {
        "TableName",
        "AttributeDefinitions",
        "KeySchema",
        "BillingMode",
        "ProvisionedThroughput",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "SSESpecification",
        "StreamSpecification",
        "TimeToLiveSpecification",
        "PointInTimeRecoverySpecification",
        "Tags",
        "DeletionProtectionEnabled",
        # Caps on what the table may serve: locally nothing is throttled, so it is
        # accepted and not applied (nor sent to the backend, which may not know it).
        "OnDemandThroughput",
    }
    unknown = set(props) - allowed
    if unknown:
        raise TemplateError(f"{logical_id}: table properties {sorted(unknown)} not supported")
    create = {
        k: props[k]
        for k in (
            "AttributeDefinitions",
            "KeySchema",
            "BillingMode",
            "ProvisionedThroughput",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "StreamSpecification",
        )
        if k in props
    }
    if "SSESpecification" in props:
        create["SSESpecification"] = {"Enabled": bool(props["SSESpecification"]["SSEEnabled"])}
    ttl = props.get("TimeToLiveSpecification", {})
    pitr = props.get("PointInTimeRecoverySpecification", {})
    return TableSpec(
        logical_id,
        resolver.refs[logical_id],
        create,
        ttl.get("AttributeName") if ttl.get("Enabled") else None,
        bool(pitr.get("PointInTimeRecoveryEnabled")),
    )


def _function(
    logical_id: str, resource: dict[str, Any], globals_fn: dict[str, Any], resolver: Resolver
) -> FunctionSpec:
    raw = resource.get("Properties", {})
    props = {**globals_fn, **{k: v for k, v in raw.items() if k != "Events"}}
    env = {
        **globals_fn.get("Environment", {}).get("Variables", {}),
        **raw.get("Environment", {}).get("Variables", {}),
    }
    memory_mb = int(resolver.resolve(props.get("MemorySize", 128)))
    if not 128 <= memory_mb <= 10_240:
        raise TemplateError(f"{logical_id}: MemorySize {memory_mb} is outside 128-10240 MB")
    reserved = resolver.resolve({"r": props.get("ReservedConcurrentExecutions", NO_VALUE)})
    if "r" in reserved and int(reserved["r"]) < 1:
        raise TemplateError(
            f"{logical_id}: ReservedConcurrentExecutions {reserved['r']} would never run it"
        )
    spec = FunctionSpec(
        logical_id=logical_id,
        handler=str(props["Handler"]),
        code_uri=str(props.get("CodeUri", ".")),
        timeout_s=float(resolver.resolve(props.get("Timeout", 3))),
        memory_mb=memory_mb,
        environment={k: str(v) for k, v in resolver.resolve(env).items()},
        runtime=str(resolver.resolve(props.get("Runtime", "python3.12"))),
        build_method=(resource.get("Metadata") or {}).get("BuildMethod"),
        async_config=_async_config(logical_id, resolver.resolve(props)),
        reserved_concurrency=int(reserved["r"]) if "r" in reserved else None,
    )
    for event_name, event in raw.get("Events", {}).items():
        _add_event(spec, event_name, event["Type"], event.get("Properties", {}), resolver)
    return spec


def _destination(where: str, raw: Any, arn_key: str) -> Destination | None:
    if not raw:
        return None
    kind, arn = raw.get("Type"), raw.get(arn_key)
    if kind not in {"SQS", "SNS", "Lambda", "EventBridge"} or not arn:
        raise TemplateError(f"{where}: needs Type (SQS, SNS, Lambda, EventBridge) and {arn_key}")
    return Destination(str(kind), str(arn))


def _async_config(logical_id: str, props: dict[str, Any]) -> AsyncConfig:
    """EventInvokeConfig and DeadLetterQueue, as Lambda applies them to async invocations."""
    config = props.get("EventInvokeConfig") or {}
    where = f"{logical_id}.EventInvokeConfig"
    retries = int(config.get("MaximumRetryAttempts", 2))
    age_s = int(config.get("MaximumEventAgeInSeconds", 21_600))
    if not 0 <= retries <= 2:
        raise TemplateError(f"{where}: MaximumRetryAttempts {retries} is outside 0-2")
    if not 60 <= age_s <= 21_600:
        raise TemplateError(f"{where}: MaximumEventAgeInSeconds {age_s} is outside 60-21600")
    destinations = config.get("DestinationConfig") or {}
    return AsyncConfig(
        max_retries=retries,
        max_event_age_s=age_s,
        on_success=_destination(f"{where}.OnSuccess", destinations.get("OnSuccess"), "Destination"),
        on_failure=_destination(f"{where}.OnFailure", destinations.get("OnFailure"), "Destination"),
        dead_letter=_destination(
            f"{logical_id}.DeadLetterQueue", props.get("DeadLetterQueue"), "TargetArn"
        ),
    )


def _add_event(
    spec: FunctionSpec, name: str, kind: str, raw: dict[str, Any], resolver: Resolver
) -> None:
    where = f"{spec.logical_id}.Events.{name}"
    allowed = {
        "SQS": SQS_EVENT_KEYS,
        "Schedule": SCHEDULE_KEYS,
        "ScheduleV2": SCHEDULE_V2_KEYS,
        "HttpApi": HTTP_EVENT_KEYS,
    }.get(kind)
    if allowed is None:
        raise TemplateError(f"{where}: event type {kind} is not supported by offpath dev")
    unknown = set(raw) - allowed
    if unknown:
        raise TemplateError(f"{where}: properties {sorted(unknown)} are not supported locally")
    if kind == "SQS":
        spec.sqs_events.append(_sqs_event(name, raw, resolver))
    elif kind == "HttpApi":
        auth = raw.get("Auth", {}).get("Authorizer")
        spec.routes.append(
            RouteSpec(
                name, str(raw.get("Method", "ANY")).upper(), raw.get("Path", "/$default"), auth
            )
        )
    else:
        spec.schedules.append(_schedule(spec.logical_id, name, kind, raw, resolver))


def _sqs_event(name: str, raw: dict[str, Any], resolver: Resolver) -> SqsEventSpec:
    queue = raw["Queue"]
    if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
        raise TemplateError(f"SQS event {name}: Queue must be !GetAtt <Queue>.Arn")
    target = queue["Fn::GetAtt"]
    queue_id = target.split(".")[0] if isinstance(target, str) else target[0]
    props = resolver.resolve(raw)
    batch_size = int(props.get("BatchSize", 10))
    window_s = float(props.get("MaximumBatchingWindowInSeconds", 0))
    _check_batching(name, batch_size, window_s)
    pollers = props.get("ProvisionedPollerConfig")
    if pollers is not None and "MaximumConcurrency" in props.get("ScalingConfig", {}):
        # CreateEventSourceMapping refuses both together; so does offpath dev.
        raise TemplateError(
            f"SQS event {name}: ProvisionedPollerConfig and ScalingConfig.MaximumConcurrency "
            "cannot be combined (AWS refuses the mapping)"
        )
    return SqsEventSpec(
        name=name,
        queue=queue_id,
        batch_size=batch_size,
        batching_window_s=window_s,
        max_concurrency=(
            int(props["ScalingConfig"]["MaximumConcurrency"])
            if "MaximumConcurrency" in props.get("ScalingConfig", {})
            else None
        ),
        report_batch_item_failures="ReportBatchItemFailures"
        in props.get("FunctionResponseTypes", []),
        enabled=bool(props.get("Enabled", True)),
    )


def _check_batching(name: str, batch_size: int, window_s: float) -> None:
    """The limits CreateEventSourceMapping enforces for a standard queue: BatchSize 1 to
    10,000, and above 10 only with MaximumBatchingWindowInSeconds of at least 1; the
    window 0 to 300 s (API_CreateEventSourceMapping.html, BatchSize)."""
    where = f"SQS event {name}"
    if not 1 <= batch_size <= 10_000:
        raise TemplateError(f"{where}: BatchSize {batch_size} is outside 1-10000")
    if not 0 <= window_s <= 300:
        raise TemplateError(
            f"{where}: MaximumBatchingWindowInSeconds {window_s:g} is outside 0-300"
        )
    if batch_size > 10 and window_s < 1:
        raise TemplateError(
            f"{where}: BatchSize {batch_size} needs MaximumBatchingWindowInSeconds of at least 1 "
            "(AWS refuses a batch size above 10 without a batching window)"
        )


def _schedule(
    function: str, name: str, kind: str, raw: dict[str, Any], resolver: Resolver
) -> ScheduleSpec:
    props = resolver.resolve(raw)
    if kind == "Schedule":
        expression = props["Schedule"]
        enabled = props.get("Enabled", props.get("State", "ENABLED") == "ENABLED")
    else:
        expression = props["ScheduleExpression"]
        enabled = props.get("State", "ENABLED") == "ENABLED"
    where = f"{function}.Events.{name}"
    retry = props.get("RetryPolicy") or {}
    dead_letter = props.get("DeadLetterConfig") or {}
    if dead_letter and not dead_letter.get("Arn"):
        raise TemplateError(
            f"{where}: DeadLetterConfig needs an Arn locally (SAM's Type: SQS makes a queue "
            "offpath dev does not create; declare the queue and name its Arn)"
        )
    window = props.get("FlexibleTimeWindow") or {}
    window_s = 0.0
    if window.get("Mode") == "FLEXIBLE":
        window_s = float(window.get("MaximumWindowInMinutes", 0)) * 60
        if not 60 <= window_s <= 1440 * 60:
            raise TemplateError(f"{where}: MaximumWindowInMinutes must be 1-1440")
    return ScheduleSpec(
        function=function,
        name=name,
        kind=kind,
        expression=str(expression),
        timezone=props.get("ScheduleExpressionTimezone"),
        input=props.get("Input"),
        enabled=bool(enabled),
        retry=RetryPolicy(
            max_retries=int(retry.get("MaximumRetryAttempts", 185)),
            max_event_age_s=int(retry.get("MaximumEventAgeInSeconds", 86_400)),
        ),
        dead_letter_arn=str(dead_letter["Arn"]) if dead_letter else None,
        flexible_window_s=window_s,
    )
