"""The emulator's meter names each request by the operation AWS bills, REST APIs too."""

from __future__ import annotations

import pytest

from offpath.local.shims.control import operation_of

AUTH = "AWS4-HMAC-SHA256 Credential=testing/20261202/us-east-1/{service}/aws4_request, ..."


def _headers(service: str, **extra: str) -> dict[str, str]:
    return {"authorization": AUTH.format(service=service), **extra}


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("POST", "/schedules/job-abc", "CreateSchedule"),
        ("GET", "/schedules/job-abc", "GetSchedule"),
        ("DELETE", "/schedules/job-abc", "DeleteSchedule"),
        ("GET", "/schedules", "ListSchedules"),
        ("POST", "/schedule-groups/offpath", "CreateScheduleGroup"),
    ],
)
def test_scheduler_routes_are_counted_by_operation(method: str, path: str, operation: str) -> None:
    assert operation_of(_headers("scheduler"), method, path, "") == f"scheduler:{operation}"


def test_json_and_query_protocols_name_their_operation() -> None:
    target = _headers("dynamodb", **{"x-amz-target": "DynamoDB_20120810.PutItem"})

    assert operation_of(target, "POST", "/", "") == "dynamodb:PutItem"
    assert operation_of(_headers("sqs"), "POST", "/", "Action=SendMessage") == "sqs:SendMessage"


def test_a_route_not_listed_keeps_its_method_and_path() -> None:
    assert operation_of(_headers("scheduler"), "PATCH", "/x", "") == "scheduler:PATCH /x"
