"""`offpath schedules list --json` gives the fire times AWS's documented examples give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offpath.cli import app

# (name, expression, time zone, next three fire times in UTC after 2026-01-01T00:00Z).
# Weekdays checked with `calendar`: 2026-01-01 is a Thursday, 02-01 and 03-01 Sundays.
CASES = [
    (
        "LastDay",
        "cron(0 0 L * ? *)",
        None,
        ["2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"],
    ),
    (
        "NearestWeekday",
        "cron(0 12 15W * ? *)",
        None,  # Feb 15 and Mar 15 are Sundays
        ["2026-01-15T12:00:00Z", "2026-02-16T12:00:00Z", "2026-03-16T12:00:00Z"],
    ),
    (
        "FirstMonday",
        "cron(0 9 ? * 2#1 *)",
        None,
        ["2026-01-05T09:00:00Z", "2026-02-02T09:00:00Z", "2026-03-02T09:00:00Z"],
    ),
    (
        "LastFriday",
        "cron(15 10 ? * 6L *)",
        None,
        ["2026-01-30T10:15:00Z", "2026-02-27T10:15:00Z", "2026-03-27T10:15:00Z"],
    ),
    (
        "Weekdays",
        "cron(0 18 ? * MON-FRI *)",
        None,
        ["2026-01-01T18:00:00Z", "2026-01-02T18:00:00Z", "2026-01-05T18:00:00Z"],
    ),
    (
        "Quarterly",
        "cron(0/15 * * * ? *)",
        None,
        ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z"],
    ),
]
# 02:30 New York does not exist on 2026-03-08 (spring forward): that run is skipped.
DST = (
    "SpringForward",
    "cron(30 2 * * ? *)",
    "America/New_York",
    ["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"],
)

pytestmark = pytest.mark.emulator


def _template(path: Path, cases: list[tuple[str, str, str | None, list[str]]]) -> Path:
    events = "".join(
        f"""
        {name}:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: "{expression}"
{f"            ScheduleExpressionTimezone: {zone}" if zone else ""}
            Input: '{{"task": "send_daily_digest", "args": {{}}}}'"""
        for name, expression, zone, _ in cases
    )
    path.write_text(
        f"""Transform: AWS::Serverless-2016-10-31
Resources:
  SchedulerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: functions.scheduler.handler.handler
      Runtime: python3.12
      Events:{events}
"""
    )
    return path


@pytest.mark.parametrize(
    ("after", "cases"), [("2026-01-01T00:00:00", CASES), ("2026-03-07T00:00:00", [DST])]
)
def test_next_fire_times_match_the_aws_examples(
    tmp_path: Path, after: str, cases: list[tuple[str, str, str | None, list[str]]]
) -> None:
    template = _template(tmp_path / "template.yaml", cases)
    result = CliRunner().invoke(
        app, ["schedules", "list", "--json", "--template", str(template), "--after", after]
    )
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for name, expression, zone, expected in cases:
        assert (rows[name]["expression"], rows[name]["timezone"]) == (expression, zone)
        assert rows[name]["next"] == expected, name
