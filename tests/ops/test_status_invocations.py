"""``offpath status`` on AWS: each pool's worker invocations from CloudWatch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from offpath.ops.status import LambdaInvocations

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="eu-west-1")


def _invoked(cloudwatch: Any, function: str, count: float, minutes_ago: int) -> None:
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Timestamp": NOW - timedelta(minutes=minutes_ago),
                "Value": count,
                "Unit": "Count",
            }
        ],
    )


def test_a_workers_invocations_are_its_own_metrics_sum_over_the_window(cloudwatch: Any) -> None:
    _invoked(cloudwatch, "shop-HeavyWorker", 3, minutes_ago=3)
    _invoked(cloudwatch, "shop-HeavyWorker", 4, minutes_ago=2)
    _invoked(cloudwatch, "shop-HeavyWorker", 50, minutes_ago=30)  # before the window
    _invoked(cloudwatch, "shop-Worker", 9, minutes_ago=2)

    counts = LambdaInvocations(cloudwatch, clock=lambda: NOW)(["shop-HeavyWorker", "shop-Idle"])

    assert counts["shop-HeavyWorker"][0] == 7
    assert counts["shop-Idle"][0] == 0
    assert "CloudWatch" in counts["shop-HeavyWorker"][1]


def test_a_refused_metric_read_is_unknown_and_says_why(cloudwatch: Any) -> None:
    def refuse(**kwargs: Any) -> None:
        raise cloudwatch.exceptions.ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetMetricStatistics"
        )

    cloudwatch.meta.events.register("before-call.cloudwatch.GetMetricStatistics", refuse)

    counts = LambdaInvocations(cloudwatch, clock=lambda: NOW)(["shop-HeavyWorker"])

    assert counts == {"shop-HeavyWorker": (None, "CloudWatch refused: AccessDenied")}


def test_a_workers_count_is_read_at_most_once_a_minute(cloudwatch: Any) -> None:
    reads: list[str] = []
    cloudwatch.meta.events.register(
        "before-call.cloudwatch.GetMetricStatistics", lambda **kwargs: reads.append("read")
    )
    moment = [0.0]
    counts = LambdaInvocations(cloudwatch, clock=lambda: NOW, monotonic=lambda: moment[0])

    counts(["shop-HeavyWorker"])
    moment[0] = 30.0
    counts(["shop-HeavyWorker"])
    assert len(reads) == 1
    moment[0] = 61.0
    counts(["shop-HeavyWorker"])
    assert len(reads) == 2
