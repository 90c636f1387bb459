"""Where the jobs live: JobsQueue, the dead-letter queue and JobsTable, found once.

Three ways, tried in this order:

1. ``--stack-name NAME`` (with ``--profile``/``--region``): the deployed stack's
   CloudFormation Outputs ``JobsQueueUrl``, ``DeadLetterQueueUrl``, ``JobsTableName``.
2. ``OFFPATH_QUEUE_URL``, ``OFFPATH_DLQ_URL``, ``OFFPATH_TABLE_NAME`` (and
   ``AWS_ENDPOINT_URL`` for an emulator): explicit beats ambient.
3. The running ``offpath dev`` (``.offpath/dev.json``): its endpoint, and the resource
   names ``template.yaml`` gives them under the stack name ``offpath``.

Example:
    >>> target = resolve_target(TargetOptions(), os.environ)  # doctest: +SKIP
    >>> target.describe()  # doctest: +SKIP
    'offpath dev at http://127.0.0.1:4566'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from offpath.aws import CLIENT_CONFIG, Clients
from offpath.ops.errors import TargetNotFound

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

LOCAL_STACK_NAME = "offpath"  # what `offpath dev` names resources unless told otherwise
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = ("test", "test")  # emulators accept any; never send real ones there
STACK_OUTPUTS = {
    "queue_url": "JobsQueueUrl",
    "dlq_url": "DeadLetterQueueUrl",
    "table_name": "JobsTableName",
}
ENVIRONMENT = {
    "queue_url": "OFFPATH_QUEUE_URL",
    "dlq_url": "OFFPATH_DLQ_URL",
    "table_name": "OFFPATH_TABLE_NAME",
}

SessionFactory = Callable[..., boto3.session.Session]


class MetricStatistics(Protocol):
    """The one CloudWatch call ``offpath status`` makes (no CloudWatch stubs installed)."""

    def get_metric_statistics(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass
class OpsClients(Clients):
    """:class:`~offpath.aws.Clients` plus the two services only operators read."""

    @cached_property
    def cloudformation(self) -> CloudFormationClient:
        return self._session().client(
            "cloudformation", config=CLIENT_CONFIG, endpoint_url=self.endpoint_url
        )

    @cached_property
    def cloudwatch(self) -> MetricStatistics:
        client = self._session().client(
            "cloudwatch", config=CLIENT_CONFIG, endpoint_url=self.endpoint_url
        )
        return cast(MetricStatistics, client)


@dataclass(frozen=True)
class TargetOptions:
    """What the command line said about the target."""

    stack_name: str | None = None
    profile: str | None = None
    region: str | None = None
    template: Path = Path("template.yaml")
    state_file: Path | None = None  # None: offpath dev's default (.offpath/dev.json)


@dataclass(frozen=True)
class Target:
    """The resolved resources and the clients that reach them."""

    kind: str  # "stack" | "environment" | "dev"
    name: str  # the stack name, or the endpoint
    clients: OpsClients
    queue_url: str
    dlq_url: str
    table_name: str

    @property
    def local(self) -> bool:
        """An emulator endpoint: no CloudWatch behind it."""
        return self.clients.endpoint_url is not None

    def describe(self) -> str:
        return {
            "stack": f"stack {self.name} ({self.clients.region})",
            "environment": f"OFFPATH_* environment ({self.name})",
            "dev": f"offpath dev at {self.name}",
        }[self.kind]


def resolve_target(
    options: TargetOptions,
    environ: Mapping[str, str],
    *,
    session_factory: SessionFactory = boto3.session.Session,
) -> Target:
    """Find the target (see the module docstring for the order).

    Raises:
        TargetNotFound: nothing names a target, or what names it does not answer.
    """
    if options.stack_name:
        return _from_stack(options, session_factory)
    named = {key: environ.get(var, "") for key, var in ENVIRONMENT.items()}
    if any(named.values()):
        return _from_environment(options, environ, named, session_factory)
    target = _from_dev(options, session_factory)
    if target is not None:
        return target
    raise TargetNotFound(
        "no target: pass --stack-name NAME for a deployed stack, start `offpath dev` "
        "(./scripts/dev) in this directory, or set OFFPATH_QUEUE_URL, OFFPATH_DLQ_URL and "
        "OFFPATH_TABLE_NAME (with AWS_ENDPOINT_URL for an emulator)"
    )


def queue_url_for(clients: Clients, name_or_url: str) -> str:
    """A queue URL from a URL (kept) or a queue name (looked up).

    Raises:
        TargetNotFound: no queue has that name.
    """
    if "://" in name_or_url:
        return name_or_url
    try:
        return clients.sqs.get_queue_url(QueueName=name_or_url)["QueueUrl"]
    except ClientError as exc:
        raise TargetNotFound(f"no queue named {name_or_url!r}: {exc}") from exc


def _from_stack(options: TargetOptions, session_factory: SessionFactory) -> Target:
    assert options.stack_name is not None
    try:
        session = session_factory(profile_name=options.profile, region_name=options.region)
    except BotoCoreError as exc:  # ProfileNotFound and friends
        raise TargetNotFound(str(exc)) from exc
    if not session.region_name:
        raise TargetNotFound("no AWS region: pass --region or set AWS_REGION")
    clients = OpsClients(session.region_name, session=session)
    try:
        stacks = clients.cloudformation.describe_stacks(StackName=options.stack_name)["Stacks"]
    except (ClientError, BotoCoreError) as exc:
        raise TargetNotFound(f"stack {options.stack_name} in {session.region_name}: {exc}") from exc
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}
    missing = sorted(key for key in STACK_OUTPUTS.values() if not outputs.get(key))
    if missing:
        raise TargetNotFound(
            f"stack {options.stack_name} has no output {', '.join(missing)} "
            "(is it an offpath stack, fully deployed?)"
        )
    return Target(
        kind="stack",
        name=options.stack_name,
        clients=clients,
        queue_url=outputs[STACK_OUTPUTS["queue_url"]],
        dlq_url=outputs[STACK_OUTPUTS["dlq_url"]],
        table_name=outputs[STACK_OUTPUTS["table_name"]],
    )


def _from_environment(
    options: TargetOptions,
    environ: Mapping[str, str],
    named: dict[str, str],
    session_factory: SessionFactory,
) -> Target:
    missing = sorted(ENVIRONMENT[key] for key, value in named.items() if not value)
    if missing:
        raise TargetNotFound(f"set {', '.join(missing)} too (or none of the OFFPATH_* three)")
    endpoint = environ.get("AWS_ENDPOINT_URL") or None
    region = (
        options.region
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or LOCAL_REGION
    )
    session = session_factory(profile_name=options.profile, region_name=region)
    if endpoint and session.get_credentials() is None:
        session = _local_session(session_factory, region)
    clients = OpsClients(region, endpoint_url=endpoint, session=session)
    return Target(
        kind="environment",
        name=endpoint or region,
        clients=clients,
        queue_url=named["queue_url"],
        dlq_url=named["dlq_url"],
        table_name=named["table_name"],
    )


def _from_dev(options: TargetOptions, session_factory: SessionFactory) -> Target | None:
    """The running ``offpath dev``, or None if none answers."""
    from offpath.local.control import STATE_FILE, read_state
    from offpath.local.template import TemplateError
    from offpath.local.topology import read_topology

    state = read_state(options.state_file or STATE_FILE)
    if state is None:
        return None
    endpoint = state["endpoint"]
    try:
        topology = read_topology(options.template, stack_name=LOCAL_STACK_NAME, region=LOCAL_REGION)
    except (OSError, TemplateError) as exc:
        raise TargetNotFound(
            f"offpath dev is running, but {options.template} cannot be read ({exc}): "
            "run from the project root or pass --template"
        ) from exc
    clients = OpsClients(
        LOCAL_REGION, endpoint_url=endpoint, session=_local_session(session_factory)
    )
    return Target(
        kind="dev",
        name=endpoint,
        clients=clients,
        queue_url=queue_url_for(clients, topology.queues["JobsQueue"].name),
        dlq_url=queue_url_for(clients, topology.queues["JobsDeadLetterQueue"].name),
        table_name=topology.tables["JobsTable"].name,
    )


def _local_session(
    session_factory: SessionFactory, region: str = LOCAL_REGION
) -> boto3.session.Session:
    return session_factory(
        aws_access_key_id=LOCAL_CREDENTIALS[0],
        aws_secret_access_key=LOCAL_CREDENTIALS[1],
        region_name=region,
    )
