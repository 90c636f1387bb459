"""Where the jobs live: discovered by rule from a template, or given by the settings."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from offpath.location import (
    Location,
    LocationNotFound,
    PoolLocation,
    from_environment,
    pools_setting,
    queue_arn_from_url,
)
from offpath.location.layout import Layout, PoolLayout, discover, read_template, worker_environment

ROOT = Path(__file__).resolve().parents[2]


def get_att(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": f"{logical_id}.Arn"}


def sam_worker(queue: str, **environment: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Handler": "app.worker.handler",
            "Environment": {"Variables": environment},
            "Events": {"Jobs": {"Type": "SQS", "Properties": {"Queue": get_att(queue)}}},
        },
    }


def queue(dead_letter_queue: str | None = None) -> dict[str, Any]:
    if dead_letter_queue is None:
        return {"Type": "AWS::SQS::Queue"}
    redrive = {"deadLetterTargetArn": get_att(dead_letter_queue), "maxReceiveCount": 5}
    return {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": redrive}}


TABLE = {"Type": "AWS::DynamoDB::Table", "Properties": {}}

SHOP: dict[str, Any] = {
    "Resources": {
        "Orders": queue("OrdersDead"),
        "OrdersDead": queue(),
        "Ledger": TABLE,
        "Fulfil": sam_worker("Orders"),
        "Web": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app.api"}},
    }
}


def test_the_projects_template_gives_a_default_and_a_heavy_pool() -> None:
    layout = discover(read_template(ROOT / "template.yaml"))

    assert layout == Layout(
        table="JobsTable",
        pools={
            "default": PoolLayout("default", "JobsQueue", "JobsDeadLetterQueue", "WorkerFunction"),
            "heavy": PoolLayout(
                "heavy", "HeavyQueue", "HeavyDeadLetterQueue", "HeavyWorkerFunction"
            ),
        },
        default_pool="default",
        schedule_group="JobsScheduleGroup",
        scheduler_role="SchedulerRole",
        scheduler_dead_letter_queue="JobsDeadLetterQueue",
    )


def test_names_are_found_by_rule_not_by_name() -> None:
    layout = discover(SHOP)

    assert layout.pools == {"default": PoolLayout("default", "Orders", "OrdersDead", "Fulfil")}
    assert layout.table == "Ledger"
    assert layout.schedule_group is None and layout.scheduler_role is None


def test_cloudformation_event_source_mappings_are_workers_too() -> None:
    template = {
        "Resources": {
            "Orders": queue("OrdersDead"),
            "OrdersDead": queue(),
            "Ledger": TABLE,
            "Fulfil": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": get_att("Orders"),
                    "FunctionName": {"Ref": "Fulfil"},
                },
            },
        }
    }

    assert discover(template).pools["default"] == PoolLayout(
        "default", "Orders", "OrdersDead", "Fulfil"
    )


def test_a_mapping_that_invokes_an_alias_is_its_functions() -> None:
    # SAM's AutoPublishAlias points the mapping at the alias (a deployed stack's
    # processed template); the pool's function, and its OFFPATH_POOL, are the alias's.
    pool = {"Variables": {"OFFPATH_POOL": "orders"}}
    template = {
        "Resources": {
            "Orders": queue("OrdersDead"),
            "OrdersDead": queue(),
            "Ledger": TABLE,
            "Fulfil": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": pool}},
            "FulfilAliaslive": {
                "Type": "AWS::Lambda::Alias",
                "Properties": {"Name": "live", "FunctionName": {"Ref": "Fulfil"}},
            },
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": get_att("Orders"),
                    "FunctionName": {"Ref": "FulfilAliaslive"},
                },
            },
        }
    }

    assert discover(template).pools == {
        "orders": PoolLayout("orders", "Orders", "OrdersDead", "Fulfil")
    }


def test_a_queue_without_redrive_has_no_dead_letter_queue() -> None:
    template = copy.deepcopy(SHOP)
    template["Resources"]["Orders"] = queue()

    assert discover(template).pools["default"].dead_letter_queue is None


def test_several_workers_are_several_pools_the_named_queue_is_the_default() -> None:
    template = copy.deepcopy(SHOP)
    resources = template["Resources"]
    resources.update(
        Heavy=queue("HeavyDead"),
        HeavyDead=queue(),
        Crunch=sam_worker("Heavy"),
        Mail=queue(),
        Mailer=sam_worker("Mail", OFFPATH_POOL="mail"),
    )
    template["Globals"] = {
        "Function": {"Environment": {"Variables": {"OFFPATH_QUEUE_URL": {"Ref": "Orders"}}}}
    }

    layout = discover(template)

    assert {name: (p.queue, p.function) for name, p in layout.pools.items()} == {
        "default": ("Orders", "Fulfil"),
        "Crunch": ("Heavy", "Crunch"),
        "mail": ("Mail", "Mailer"),
    }
    assert layout.default_pool == "default"


def test_two_workers_claiming_one_pool_name_are_refused() -> None:
    template = copy.deepcopy(SHOP)
    template["Resources"]["Fulfil"] = sam_worker("Orders", OFFPATH_POOL="orders")
    template["Resources"].update(Other=queue(), Worker2=sam_worker("Other", OFFPATH_POOL="orders"))

    with pytest.raises(LocationNotFound, match="two pools are called 'orders'"):
        discover(template)


def test_with_two_tables_the_setting_names_the_job_table() -> None:
    template = copy.deepcopy(SHOP)
    template["Resources"]["Customers"] = TABLE

    with pytest.raises(LocationNotFound, match=r"has 2 \(Customers, Ledger\).*OFFPATH_TABLE_NAME"):
        discover(template)

    template["Resources"]["Fulfil"] = sam_worker("Orders", OFFPATH_TABLE_NAME={"Ref": "Ledger"})
    assert discover(template).table == "Ledger"


def test_a_template_without_a_worker_says_what_a_worker_is() -> None:
    with pytest.raises(LocationNotFound, match="no function has an SQS event source"):
        discover({"Resources": {"Ledger": TABLE}})


def test_the_workers_literal_settings_are_read_from_the_template() -> None:
    template = copy.deepcopy(SHOP)
    template["Globals"] = {
        "Function": {"Environment": {"Variables": {"OFFPATH_TASK_MODULES": "shop.tasks"}}}
    }
    template["Resources"]["Fulfil"] = sam_worker("Orders", OFFPATH_TABLE_NAME={"Ref": "Ledger"})

    assert worker_environment(template) == {"OFFPATH_TASK_MODULES": "shop.tasks"}


def test_explicit_settings_derive_arns_from_the_urls() -> None:
    location = from_environment(
        {
            "OFFPATH_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
            "OFFPATH_DLQ_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/dead",
            "OFFPATH_TABLE_NAME": "records",
        }
    )

    assert location.pool() == PoolLocation(
        name="default",
        queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
        queue_arn="arn:aws:sqs:eu-west-1:123456789012:jobs",
        dlq_url="https://sqs.eu-west-1.amazonaws.com/123456789012/dead",
        dlq_arn="arn:aws:sqs:eu-west-1:123456789012:dead",
    )
    assert location.table_name == "records"
    assert location.scheduler_dlq_arn == "arn:aws:sqs:eu-west-1:123456789012:dead"


def test_missing_explicit_settings_are_named() -> None:
    with pytest.raises(LocationNotFound, match="OFFPATH_QUEUE_URL, OFFPATH_TABLE_NAME not set"):
        from_environment({})


@pytest.mark.parametrize(
    ("url", "region", "arn"),
    [
        (
            "http://127.0.0.1:4566/000000000000/q",
            "us-east-1",
            "arn:aws:sqs:us-east-1:000000000000:q",
        ),
        (
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
            None,
            "arn:aws-cn:sqs:cn-north-1:123456789012:q",
        ),
    ],
)
def test_queue_arns_from_urls(url: str, region: str | None, arn: str) -> None:
    assert queue_arn_from_url(url, region) == arn


def test_a_location_survives_its_json_and_cannot_be_changed() -> None:
    location = from_environment(
        {"OFFPATH_QUEUE_URL": "http://127.0.0.1:1/000000000000/q", "OFFPATH_TABLE_NAME": "t"},
        region="us-east-1",
    )

    assert Location.from_json(location.to_json()) == location
    with pytest.raises(TypeError):
        location.pools["other"] = location.pool()  # type: ignore[index]
    with pytest.raises(LocationNotFound, match="no pool 'heavy'"):
        location.pool("heavy")


def test_the_other_pools_come_from_offpath_pools() -> None:
    location = from_environment(
        {
            "OFFPATH_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
            "OFFPATH_TABLE_NAME": "jobs",
            "OFFPATH_POOLS": json.dumps(
                {
                    "heavy": {
                        "queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/heavy",
                        "dlq_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/heavy-dead",
                    }
                }
            ),
        }
    )

    assert sorted(location.pools) == ["default", "heavy"]
    assert location.default_pool == "default"
    assert location.pool("heavy").queue_arn == "arn:aws:sqs:eu-west-1:123456789012:heavy"
    assert location.pool("heavy").dlq_arn == "arn:aws:sqs:eu-west-1:123456789012:heavy-dead"
    # What pools_setting writes, from_environment reads back.
    again = from_environment(
        {
            "OFFPATH_QUEUE_URL": location.pool().queue_url,
            "OFFPATH_TABLE_NAME": "jobs",
            "OFFPATH_POOLS": pools_setting(location.pools),
        }
    )
    assert again == location


@pytest.mark.parametrize(
    ("value", "problem"),
    [("{", "not JSON"), ("[]", "JSON object"), ('{"heavy": {}}', "pool 'heavy' needs a queue_url")],
)
def test_a_bad_offpath_pools_is_refused_with_its_reason(value: str, problem: str) -> None:
    with pytest.raises(LocationNotFound, match=problem):
        from_environment(
            {
                "OFFPATH_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
                "OFFPATH_TABLE_NAME": "jobs",
                "OFFPATH_POOLS": value,
            }
        )
