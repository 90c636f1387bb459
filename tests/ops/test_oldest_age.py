"""The age of the oldest job comes from CloudWatch, read at most once a minute."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from offpath.ops.status import OldestAge

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class FakeCloudWatch:
    def __init__(self, datapoints: list[dict[str, Any]] | None = None) -> None:
        self.datapoints = datapoints or []
        self.requests: list[dict[str, Any]] = []
        self.error: ClientError | None = None

    def get_metric_statistics(self, **kwargs: Any) -> Mapping[str, Any]:
        self.requests.append(kwargs)
        if self.error is not None:
            raise self.error
        return {"Datapoints": self.datapoints}


class Ticker:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_the_newest_datapoint_wins_and_is_dated() -> None:
    cloudwatch = FakeCloudWatch(
        [
            {"Timestamp": NOW - timedelta(minutes=3), "Maximum": 40.0},
            {"Timestamp": NOW - timedelta(minutes=2), "Maximum": 95.0},
        ]
    )

    age_s, note = OldestAge(cloudwatch, clock=lambda: NOW)("https://sqs/123/shop-JobsQueue")

    assert (age_s, note) == (95.0, "CloudWatch, minute of 11:58 UTC")
    [asked] = cloudwatch.requests
    assert asked["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert asked["Dimensions"] == [{"Name": "QueueName", "Value": "shop-JobsQueue"}]
    assert asked["StartTime"] == NOW - timedelta(minutes=10)


def test_a_second_read_within_a_minute_costs_no_request() -> None:
    cloudwatch = FakeCloudWatch([{"Timestamp": NOW, "Maximum": 5.0}])
    ticker = Ticker()
    oldest = OldestAge(cloudwatch, clock=lambda: NOW, monotonic=ticker)

    oldest("https://sqs/123/q")
    ticker.now_s += 59
    oldest("https://sqs/123/q")
    assert len(cloudwatch.requests) == 1
    ticker.now_s += 2
    oldest("https://sqs/123/q")
    assert len(cloudwatch.requests) == 2


def test_no_datapoint_or_a_refusal_is_null_with_the_reason() -> None:
    cloudwatch = FakeCloudWatch()
    assert OldestAge(cloudwatch, clock=lambda: NOW)("https://sqs/123/q") == (
        None,
        "no CloudWatch datapoint in the last 10 minutes (idle queue?)",
    )
    cloudwatch.error = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetMetricStatistics"
    )
    assert OldestAge(cloudwatch, clock=lambda: NOW)("https://sqs/123/q") == (
        None,
        "CloudWatch refused: AccessDenied",
    )
