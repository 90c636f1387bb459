"""A deployed stack's location: its template's layout, bound to its resources.

The stack's own template (``GetTemplate``, as processed by CloudFormation) gives the
layout, by the rules of :mod:`offpath.location.layout`; ``ListStackResources`` gives
each logical id's physical id. Nothing depends on Outputs with agreed names, so a
stack that calls its queue ``OrdersQueue`` works as well as offpath's own.

Example:
    >>> location = from_stack(session.client("cloudformation"), "shop")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from offpath.location import Location, LocationNotFound, partition, queue_arn_from_url
from offpath.location.layout import Layout, bind, discover, parse_template

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

# Physical ids CloudFormation gives, by type: an SQS queue's is its URL; a table's,
# a function's, a role's and a schedule group's are their names.
_ARN_TEMPLATES = {
    "AWS::DynamoDB::Table": "arn:{p}:dynamodb:{r}:{a}:table/{n}",
    "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
    "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{n}",
    "AWS::Scheduler::ScheduleGroup": "arn:{p}:scheduler:{r}:{a}:schedule-group/{n}",
}


@dataclass(frozen=True)
class StackNames:
    """The names a deployed stack gave its resources (see :class:`~.layout.Names`)."""

    stack_name: str
    region: str
    account: str
    resources: Mapping[str, tuple[str, str]]  # logical id -> (type, physical id)

    def _physical(self, logical_id: str) -> tuple[str, str]:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise LocationNotFound(
                f"stack {self.stack_name} has no resource {logical_id} (not deployed yet?)"
            ) from None

    def queue_url(self, logical_id: str) -> str:
        return self._physical(logical_id)[1]

    def name(self, logical_id: str) -> str:
        kind, physical = self._physical(logical_id)
        if kind == "AWS::SQS::Queue":
            return physical.rstrip("/").rsplit("/", 1)[-1]
        # SAM functions and roles are created as Lambda and IAM resources.
        return physical.rsplit(":", 1)[-1] if physical.startswith("arn:") else physical

    def arn(self, logical_id: str) -> str:
        kind, physical = self._physical(logical_id)
        if physical.startswith("arn:"):
            return physical
        if kind == "AWS::SQS::Queue":
            return queue_arn_from_url(physical, self.region)
        kind = {"AWS::Serverless::Function": "AWS::Lambda::Function"}.get(kind, kind)
        template = _ARN_TEMPLATES.get(kind)
        if template is None:
            raise LocationNotFound(f"{logical_id} ({kind}): no ARN known for this type")
        return template.format(
            p=partition(self.region), r=self.region, a=self.account, n=self.name(logical_id)
        )


def from_stack(cloudformation: CloudFormationClient, stack_name: str) -> Location:
    """The location of the jobs of a deployed stack.

    Raises:
        LocationNotFound: the stack does not answer, or holds no offpath worker.
    """
    try:
        stack_id = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
        body = cloudformation.get_template(StackName=stack_name, TemplateStage="Processed")[
            "TemplateBody"
        ]
        resources = {
            r["LogicalResourceId"]: (r["ResourceType"], r.get("PhysicalResourceId", ""))
            for page in cloudformation.get_paginator("list_stack_resources").paginate(
                StackName=stack_name
            )
            for r in page["StackResourceSummaries"]
        }
    except (ClientError, BotoCoreError) as exc:
        raise LocationNotFound(f"stack {stack_name}: {exc}") from exc
    layout = _layout(stack_name, body)
    # arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>
    _, _, _, region, account, _ = stack_id.split(":", 5)
    return bind(layout, StackNames(stack_name, region, account, resources))


def _layout(stack_name: str, body: Any) -> Layout:
    template = body if isinstance(body, Mapping) else _parse(stack_name, str(body))
    try:
        return discover(template)
    except LocationNotFound as exc:
        raise LocationNotFound(f"stack {stack_name}: {exc}") from exc


def _parse(stack_name: str, text: str) -> Mapping[str, Any]:
    """A template body: JSON (the processed stage is), else YAML."""
    return parse_template(text, source=f"stack {stack_name}'s template")
