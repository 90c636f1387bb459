"""Target resolution: a stack's Outputs, the OFFPATH_* environment, or nothing (clearly)."""

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

OUTPUTS = {
    "JobsQueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/shop-JobsQueue",
    "DeadLetterQueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/shop-Dlq",
    "JobsTableName": "shop-JobsTable",
}


def _session(**kwargs: Any) -> boto3.session.Session:
    """boto3's Session without the profile (moto knows no profiles)."""
    kwargs.pop("profile_name", None)
    return boto3.session.Session(**kwargs)


@pytest.fixture
def cloudformation() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudformation", region_name="eu-west-1")


def _stack(cloudformation: Any, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_a_stack_name_reads_the_three_outputs(cloudformation: Any) -> None:
    _stack(cloudformation, "shop", OUTPUTS)

    target = resolve_target(
        TargetOptions(stack_name="shop", region="eu-west-1"), {}, session_factory=_session
    )

    assert (target.kind, target.queue_url, target.dlq_url, target.table_name) == (
        "stack",
        OUTPUTS["JobsQueueUrl"],
        OUTPUTS["DeadLetterQueueUrl"],
        "shop-JobsTable",
    )
    assert not target.local
    assert target.describe() == "stack shop (eu-west-1)"


def test_a_stack_without_the_outputs_is_named_with_what_is_missing(cloudformation: Any) -> None:
    _stack(cloudformation, "other", {"JobsQueueUrl": OUTPUTS["JobsQueueUrl"]})

    with pytest.raises(TargetNotFound, match="DeadLetterQueueUrl, JobsTableName"):
        resolve_target(
            TargetOptions(stack_name="other", region="eu-west-1"), {}, session_factory=_session
        )


def test_a_missing_stack_says_which_and_where(cloudformation: Any) -> None:
    with pytest.raises(TargetNotFound, match="stack nope in eu-west-1"):
        resolve_target(
            TargetOptions(stack_name="nope", region="eu-west-1"), {}, session_factory=_session
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
    with pytest.raises(TargetNotFound, match="OFFPATH_DLQ_URL, OFFPATH_TABLE_NAME"):
        resolve_target(TargetOptions(), {"OFFPATH_QUEUE_URL": "http://q"})


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
