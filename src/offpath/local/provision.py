"""Creates the template's queues, tables and schedule groups on an AWS endpoint.

Used by ``offpath dev`` and by the tests, against moto (in-process or server) or
LocalStack: the same boto3 calls CloudFormation would make.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from offpath.aws import Clients
from offpath.local.topology import Topology, read_topology

# Attributes that name other resources: set once every queue exists.
_LATE_ATTRIBUTES = ("RedrivePolicy", "RedriveAllowPolicy")


@dataclass(frozen=True)
class Provisioned:
    """The topology with the local URLs filled in."""

    topology: Topology
    queue_urls: dict[str, str]  # logical id -> URL

    def queue_url(self, logical_id: str) -> str:
        return self.queue_urls[logical_id]

    def table_name(self, logical_id: str = "JobsTable") -> str:
        return self.topology.tables[logical_id].name

    def environment(self, function: str) -> dict[str, str]:
        return dict(self.topology.functions[function].environment)


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
    return Provisioned(topology, urls)


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
