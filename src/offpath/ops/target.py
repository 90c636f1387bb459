"""Where the jobs live, for the operator commands: a :class:`~offpath.location.Location`
and the clients that reach it.

The order of :mod:`offpath.location`, as the command line sees it:

1. **Explicit settings**: ``OFFPATH_QUEUE_URL``, ``OFFPATH_TABLE_NAME`` (and
   ``OFFPATH_DLQ_URL``...; ``AWS_ENDPOINT_URL`` for an emulator) in the environment.
2. **A deployed stack**: ``--stack-name NAME`` (with ``--profile``/``--region``): its
   template and resources say which queue, dead-letter queue and table are the jobs'.
   Naming a stack while ``OFFPATH_*`` settings are exported is refused: the two could
   disagree, and an operator must know which one a command acts on.
3. **template.yaml, as ``offpath dev`` runs it**: the running emulator's endpoint and
   the local names of the template's resources (its state file, ``.offpath/dev.json``).

Example:
    >>> target = resolve_target(TargetOptions(), os.environ)  # doctest: +SKIP
    >>> target.describe()  # doctest: +SKIP
    'offpath dev at http://127.0.0.1:4566'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from offpath.aws import Clients
from offpath.location import SETTINGS, Location, LocationNotFound, PoolLocation, is_explicit
from offpath.ops.errors import TargetNotFound

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = ("test", "test")  # emulators accept any; never send real ones there

SessionFactory = Callable[..., boto3.session.Session]


class MetricStatistics(Protocol):
    """The one CloudWatch call ``offpath status`` makes (no CloudWatch stubs installed)."""

    def get_metric_statistics(self, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass
class OpsClients(Clients):
    """:class:`~offpath.aws.Clients` plus the two services only operators read."""

    @cached_property
    def cloudformation(self) -> CloudFormationClient:
        return cast("CloudFormationClient", self._client("cloudformation"))

    @cached_property
    def cloudwatch(self) -> MetricStatistics:
        return cast(MetricStatistics, self._client("cloudwatch"))


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
    """Where the jobs live, and the clients that reach them."""

    kind: str  # "stack" | "environment" | "dev"
    name: str  # the stack name, or the endpoint
    clients: OpsClients
    location: Location
    # The default worker's settings as the target knows them (offpath dev: from the
    # template), for commands that import tasks as that worker would.
    environment: Mapping[str, str] = field(default_factory=dict)
    control: str = ""  # offpath dev's control API ("" for other targets)

    @property
    def pool(self) -> PoolLocation:
        return self.location.pool()

    @property
    def queue_url(self) -> str:
        return self.pool.queue_url

    @property
    def dlq_url(self) -> str:
        """The default pool's dead-letter queue.

        Raises:
            TargetNotFound: the pool's queue has no dead-letter queue.
        """
        if not self.pool.dlq_url:
            raise TargetNotFound(
                f"pool {self.pool.name} ({self.pool.queue_name}) has no dead-letter queue: "
                "give its queue a RedrivePolicy (or set OFFPATH_DLQ_URL)"
            )
        return self.pool.dlq_url

    @property
    def table_name(self) -> str:
        return self.location.table_name

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
        TargetNotFound: nothing names a target, what names it does not answer, or a
            stack is named while the environment names resources too.
    """
    explicit = is_explicit(environ)
    if options.stack_name and explicit:
        exported = ", ".join(name for name in SETTINGS if environ.get(name))
        raise TargetNotFound(
            f"--stack-name {options.stack_name} and the environment ({exported}) both say "
            "where the jobs live: unset the OFFPATH_* variables or drop --stack-name"
        )
    if explicit:
        return _from_environment(options, environ, session_factory)
    if options.stack_name:
        return _from_stack(options, session_factory)
    target = _from_dev(options, session_factory)
    if target is not None:
        return target
    raise TargetNotFound(
        "no target: pass --stack-name NAME for a deployed stack, start `offpath dev` "
        "in this directory, or set OFFPATH_QUEUE_URL and OFFPATH_TABLE_NAME (and "
        "OFFPATH_DLQ_URL; AWS_ENDPOINT_URL for an emulator)"
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
    from offpath.location.stack import from_stack

    assert options.stack_name is not None
    try:
        session = session_factory(profile_name=options.profile, region_name=options.region)
    except BotoCoreError as exc:  # ProfileNotFound and friends
        raise TargetNotFound(str(exc)) from exc
    if not session.region_name:
        raise TargetNotFound("no AWS region: pass --region or set AWS_REGION")
    clients = OpsClients(session.region_name, session=session)
    try:
        location = from_stack(clients.cloudformation, options.stack_name)
    except LocationNotFound as exc:
        raise TargetNotFound(f"{exc} ({session.region_name})") from exc
    return Target(kind="stack", name=options.stack_name, clients=clients, location=location)


def _from_environment(
    options: TargetOptions, environ: Mapping[str, str], session_factory: SessionFactory
) -> Target:
    endpoint = environ.get("AWS_ENDPOINT_URL") or None
    region = (
        options.region
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or LOCAL_REGION
    )
    from offpath.location import from_environment

    try:
        location = from_environment(environ, region=region)
    except LocationNotFound as exc:
        raise TargetNotFound(str(exc)) from exc
    session = session_factory(profile_name=options.profile, region_name=region)
    if endpoint and session.get_credentials() is None:
        session = _local_session(session_factory, region)
    clients = OpsClients(region, endpoint_url=endpoint, session=session)
    return Target(
        kind="environment",
        name=endpoint or region,
        clients=clients,
        location=location,
        environment={k: v for k, v in environ.items() if k.startswith("OFFPATH_")},
    )


def _from_dev(options: TargetOptions, session_factory: SessionFactory) -> Target | None:
    """The running ``offpath dev``, or None if none answers."""
    from offpath.devstate import STATE_FILE, read_state

    state = read_state(options.state_file or STATE_FILE)
    if state is None:
        return None
    if state.location is None:
        raise TargetNotFound(
            f"offpath dev is running at {state.endpoint}, but its template holds no "
            "offpath jobs (no function with an SQS event, or no job table)"
        )
    clients = OpsClients(
        LOCAL_REGION, endpoint_url=state.endpoint, session=_local_session(session_factory)
    )
    return Target(
        kind="dev",
        name=state.endpoint,
        clients=clients,
        location=state.location,
        environment=state.environment,
        control=state.control,
    )


def _local_session(
    session_factory: SessionFactory, region: str = LOCAL_REGION
) -> boto3.session.Session:
    return session_factory(
        aws_access_key_id=LOCAL_CREDENTIALS[0],
        aws_secret_access_key=LOCAL_CREDENTIALS[1],
        region_name=region,
    )
