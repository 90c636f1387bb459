"""Creates the template's queues, tables, schedule groups and secrets on an AWS endpoint.

Used by ``offpath dev`` and by the tests, against moto (in-process or server) or
LocalStack: the same boto3 calls CloudFormation would make.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from offpath.aws import Clients
from offpath.local.template import TemplateError, load_template
from offpath.local.topology import Topology, read_topology
from offpath.location import Location, LocationNotFound
from offpath.location.layout import Layout, bind, discover

# What every function sees locally and never on AWS: webhooks may call the developer's
# own machine (http:// and loopback), so a local receiver can watch them.
LOCAL_ENVIRONMENT = {"OFFPATH_WEBHOOK_ALLOW_LOOPBACK": "true"}

# Attributes that name other resources: set once every queue exists.
_LATE_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


@dataclass(frozen=True)
class Provisioned:
    """The topology with the local URLs filled in, and where its jobs live."""

    topology: Topology
    queue_urls: dict[str, str]  # logical id -> URL
    layout: Layout | None = None  # None: the template holds no offpath jobs...
    layout_error: str = ""  # ...and why

    def queue_url(self, logical_id: str) -> str:
        return self.queue_urls[logical_id]

    def table_name(self, logical_id: str | None = None) -> str:
        """A table's local name; the job table's when no logical id is given."""
        if logical_id is None:
            return self.location.table_name
        return self.topology.tables[logical_id].name

    def environment(self, function: str) -> dict[str, str]:
        return {**self.topology.functions[function].environment, **LOCAL_ENVIRONMENT}

    @cached_property
    def location(self) -> Location:
        """The template's jobs, by the local names (see :mod:`offpath.location`).

        Raises:
            LocationNotFound: the template has no worker or no job table.
        """
        if self.layout is None:
            raise LocationNotFound(self.layout_error or "the template holds no offpath jobs")
        return bind(self.layout, _LocalNames(self))

    @property
    def has_jobs(self) -> bool:
        return self.layout is not None


@dataclass(frozen=True)
class _LocalNames:
    """The names provisioning gave the template's resources."""

    provisioned: Provisioned

    def queue_url(self, logical_id: str) -> str:
        return self.provisioned.queue_urls[logical_id]

    def arn(self, logical_id: str) -> str:
        arn: str = self.provisioned.topology.resolver.attrs[(logical_id, "Arn")]
        return arn

    def name(self, logical_id: str) -> str:
        topology = self.provisioned.topology
        if logical_id in topology.functions:
            return logical_id  # the emulator and the harness run functions by logical id
        name: str = topology.resolver.refs[logical_id]
        return name


def provision(
    template: Path,
    clients: Clients,
    *,
    stack_name: str = "offpath",
    parameters: dict[str, Any] | None = None,
) -> Provisioned:
    """Create (or find) every emulated resource of ``template``; idempotent."""
    draft = read_topology(
        template, stack_name=stack_name, region=clients.region, parameters=parameters
    )
    urls: dict[str, str] = {}
    for logical_id, spec in draft.queues.items():
        early: Any = {k: v for k, v in spec.attributes.items() if k not in _LATE_ATTRIBUTES}
        urls[logical_id] = clients.sqs.create_queue(QueueName=spec.name, Attributes=early)[
            "QueueUrl"
        ]
    # Resolve again now that !Ref of a queue can give its real URL.
    topology = read_topology(
        template,
        stack_name=stack_name,
        region=clients.region,
        parameters=parameters,
        queue_urls=urls,
    )
    for logical_id, spec in topology.queues.items():
        late: Any = {k: v for k, v in spec.attributes.items() if k in _LATE_ATTRIBUTES}
        if late:
            clients.sqs.set_queue_attributes(QueueUrl=urls[logical_id], Attributes=late)
    for table in topology.tables.values():
        _create_table(
            clients, table.name, table.create, table.ttl_attribute, table.point_in_time_recovery
        )
    for group in topology.schedule_groups.values():
        _create_schedule_group(clients, group)
    for secret in topology.secrets.values():
        _create_secret(clients, secret)
    layout, why = _layout(template)
    return Provisioned(topology, urls, layout, why)


def _layout(template: Path) -> tuple[Layout | None, str]:
    """Where the template's jobs live, in logical ids; None (and why) if it holds none."""
    try:
        return discover(load_template(template)), ""
    except (LocationNotFound, TemplateError) as exc:
        return None, f"{template}: {exc}"


def _create_table(
    clients: Clients, name: str, create: dict[str, Any], ttl: str | None, pitr: bool
) -> None:
    ddb = clients.dynamodb
    try:
        ddb.create_table(TableName=name, **create)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
        return
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    if ttl:
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
        )
    if pitr:
        ddb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


def _create_schedule_group(clients: Clients, name: str) -> None:
    try:
        clients.scheduler.create_schedule_group(Name=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConflictException":
            raise


def _create_secret(clients: Clients, name: str) -> None:
    """A secret as the template's GenerateSecretString makes one: 32 letters and digits
    (valid base64: the webhook signing key). Kept if it exists, as on a stack update."""
    alphabet = string.ascii_letters + string.digits
    value = "".join(secrets.choice(alphabet) for _ in range(32))
    try:
        clients.secretsmanager.create_secret(Name=name, SecretString=value)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise
