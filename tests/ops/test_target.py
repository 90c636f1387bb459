"""Target resolution: the OFFPATH_* environment, a stack's resources, offpath dev, or nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from offpath.ops.errors import TargetNotFound
from offpath.ops.target import TargetOptions, resolve_target


def _session(**kwargs: Any) -> boto3.session.Session:
    """boto3's Session without the profile (moto knows no profiles)."""
    kwargs.pop("profile_name", None)
    return boto3.session.Session(**kwargs)


@pytest.fixture
def cloudformation() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudformation", region_name="eu-west-1")


# A stack as CloudFormation holds it after SAM's transform (plain Lambda and event
# source mapping resources), with names of the user's own choosing.
SHOP = {
    "Resources": {
        "Orders": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["OrdersDead", "Arn"]},
                    "maxReceiveCount": 3,
                }
            },
        },
        "OrdersDead": {"Type": "AWS::SQS::Queue"},
        "Ledger": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            },
        },
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}},
        },
        "Fulfil": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "shop.worker.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context): pass"},
                "Environment": {"Variables": {"OFFPATH_TABLE_NAME": {"Ref": "Ledger"}}},
            },
        },
        "FulfilOrders": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Orders", "Arn"]},
                "FunctionName": {"Ref": "Fulfil"},
            },
        },
    }
}


def _stack(cloudformation: Any, name: str, template: dict[str, Any]) -> dict[str, str]:
    """Create the stack; returns its resources' physical ids by logical id."""
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}


def test_a_stack_name_finds_the_jobs_in_the_stack_whatever_their_names(
    cloudformation: Any,
) -> None:
    physical = _stack(cloudformation, "shop", SHOP)

    target = resolve_target(
        TargetOptions(stack_name="shop", region="eu-west-1"), {}, session_factory=_session
    )

    pool = target.location.pool()
    assert (target.kind, pool.name, pool.queue_url, pool.dlq_url, target.table_name) == (
        "stack",
        "default",
        physical["Orders"],
        physical["OrdersDead"],
        physical["Ledger"],
    )
    assert pool.function == physical["Fulfil"]
    assert pool.queue_arn == (
        "arn:aws:sqs:eu-west-1:123456789012:" + physical["Orders"].rsplit("/", 1)[1]
    )
    assert not target.local
    assert target.describe() == "stack shop (eu-west-1)"


def test_a_stack_without_a_worker_says_what_it_lacks(cloudformation: Any) -> None:
    _stack(cloudformation, "other", {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})

    with pytest.raises(TargetNotFound, match="stack other: the template has no worker"):
        resolve_target(
            TargetOptions(stack_name="other", region="eu-west-1"), {}, session_factory=_session
        )


def test_a_missing_stack_says_which_and_where(cloudformation: Any) -> None:
    with pytest.raises(TargetNotFound, match=r"stack nope.*eu-west-1"):
        resolve_target(
            TargetOptions(stack_name="nope", region="eu-west-1"), {}, session_factory=_session
        )


def test_a_stack_and_exported_settings_together_are_refused(cloudformation: Any) -> None:
    _stack(cloudformation, "shop", SHOP)

    with pytest.raises(TargetNotFound, match="both say where the jobs live"):
        resolve_target(
            TargetOptions(stack_name="shop", region="eu-west-1"),
            {"OFFPATH_QUEUE_URL": "http://127.0.0.1:4566/000000000000/q"},
            session_factory=_session,
        )


def test_an_unknown_profile_is_a_target_error() -> None:
    with pytest.raises(TargetNotFound, match="no-such-profile"):
        resolve_target(TargetOptions(stack_name="shop", profile="no-such-profile"), {})


def test_the_offpath_environment_names_an_emulator_target() -> None:
    environ = {
        "OFFPATH_QUEUE_URL": "http://127.0.0.1:4566/000000000000/q",
        "OFFPATH_DLQ_URL": "http://127.0.0.1:4566/000000000000/dlq",
        "OFFPATH_TABLE_NAME": "jobs",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_REGION": "eu-central-1",
    }

    target = resolve_target(TargetOptions(), environ)

    assert (target.kind, target.table_name, target.clients.region) == (
        "environment",
        "jobs",
        "eu-central-1",
    )
    assert target.local and target.clients.endpoint_url == "http://127.0.0.1:4566"


def test_a_partial_environment_names_the_missing_variables() -> None:
    with pytest.raises(TargetNotFound, match="OFFPATH_TABLE_NAME not set"):
        resolve_target(TargetOptions(), {"OFFPATH_QUEUE_URL": "http://q"})


def test_dead_letter_commands_on_a_queue_without_one_say_so() -> None:
    target = resolve_target(
        TargetOptions(),
        {
            "OFFPATH_QUEUE_URL": "http://127.0.0.1:4566/000000000000/q",
            "OFFPATH_TABLE_NAME": "jobs",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        },
    )

    with pytest.raises(TargetNotFound, match=r"pool default \(q\) has no dead-letter queue"):
        _ = target.dlq_url


def test_with_nothing_to_go_on_the_error_lists_every_way(tmp_path: Path) -> None:
    options = TargetOptions(state_file=tmp_path / "dev.json")

    with pytest.raises(TargetNotFound) as caught:
        resolve_target(options, {})

    message = str(caught.value)
    assert "--stack-name" in message and "offpath dev" in message
    assert "OFFPATH_QUEUE_URL" in message


def test_a_stale_dev_state_file_is_not_a_target(tmp_path: Path) -> None:
    state = tmp_path / "dev.json"
    state.write_text(
        json.dumps({"api": "", "endpoint": "http://127.0.0.1:9", "control": "http://127.0.0.1:9"})
    )

    with pytest.raises(TargetNotFound, match="no target"):
        resolve_target(TargetOptions(state_file=state), {})
