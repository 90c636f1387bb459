"""The template's schedules, fired locally at the times EventBridge would fire them.

Fire times come from :mod:`offpath.cron`, the same computation ``offpath schedules
list`` prints, so what the list says is what fires.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from offpath.cron import AtExpression, ScheduleExpression, parse_expression, validate_expression
from offpath.local.topology import ScheduleSpec, Topology

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient


@dataclass
class LocalSchedule:
    """One template schedule and its next tick."""

    spec: ScheduleSpec
    expression: ScheduleExpression
    target_arn: str
    arn: str
    next_at: datetime | None = None
    fired: list[datetime] = field(default_factory=list)

    @property
    def tz(self) -> ZoneInfo | None:
        return ZoneInfo(self.spec.timezone) if self.spec.timezone else None

    def next_after(self, moment: datetime, count: int = 1) -> list[datetime]:
        return self.expression.next_fire_times(moment, count, tz=self.tz)

    def due(self, now: datetime) -> list[datetime]:
        """Every tick up to ``now`` not fired yet (a jumped clock fires each one)."""
        ticks = []
        while self.next_at is not None and self.next_at <= now:
            ticks.append(self.next_at)
            following = self.next_after(self.next_at)
            self.next_at = following[0] if following else None
        return ticks

    def event(self, tick: datetime, region: str, account: str) -> Any:
        """The event the target function receives for ``tick``."""
        if self.spec.input is not None:
            text = self.spec.input
            if self.spec.kind == "ScheduleV2":
                text = _substitute(text, tick, self.arn)
            return json.loads(text)
        if self.spec.kind == "ScheduleV2":
            return {}
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": account,
            "time": tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": [self.arn],
            "detail": {},
        }


def _substitute(text: str, tick: datetime, arn: str) -> str:
    """EventBridge Scheduler's context attributes, filled in as it does."""
    values = {
        "<aws.scheduler.scheduled-time>": tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.schedule-arn>": arn,
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": "1",
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def load_schedules(topology: Topology, now: datetime) -> dict[str, LocalSchedule]:
    """Every enabled schedule of the template, validated, with its first tick after ``now``.

    Raises:
        ScheduleExpressionError: an expression AWS would refuse, naming the schedule.
    """
    schedules: dict[str, LocalSchedule] = {}
    for function in topology.functions.values():
        for spec in function.schedules:
            expression = validate_expression(spec.expression, name=spec.name)
            service = "events" if spec.kind == "Schedule" else "scheduler"
            kind = "rule" if spec.kind == "Schedule" else "schedule/default"
            local = LocalSchedule(
                spec=spec,
                expression=expression,
                target_arn=topology.resolver.attrs.get((function.logical_id, "Arn"), ""),
                arn=f"arn:aws:{service}:{topology.region}:{topology.account_id}:"
                f"{kind}/{topology.stack_name}-{spec.name}",
            )
            if spec.enabled:
                upcoming = local.next_after(now)
                local.next_at = upcoming[0] if upcoming else None
            schedules[spec.name] = local
    return schedules


@dataclass(frozen=True)
class OneOff:
    """A one-time schedule stored in EventBridge Scheduler (moto keeps, never fires, them)."""

    name: str
    group: str
    expression: str
    timezone: str | None
    due_at: datetime
    target_arn: str
    input: str
    delete_after: bool


def list_one_offs(client: EventBridgeSchedulerClient, groups: list[str]) -> list[OneOff]:
    """Every ``at(...)`` schedule in ``groups``, with its due time in UTC."""
    found = []
    for group in groups:
        for page in client.get_paginator("list_schedules").paginate(GroupName=group):
            for summary in page.get("Schedules", []):
                schedule = client.get_schedule(Name=summary["Name"], GroupName=group)
                expression = parse_expression(schedule["ScheduleExpression"])
                if not isinstance(expression, AtExpression):
                    continue
                zone = schedule.get("ScheduleExpressionTimezone")
                tz = ZoneInfo(zone) if zone else UTC
                found.append(
                    OneOff(
                        name=schedule["Name"],
                        group=group,
                        expression=schedule["ScheduleExpression"],
                        timezone=zone,
                        due_at=expression.when.replace(tzinfo=tz).astimezone(UTC),
                        target_arn=schedule["Target"]["Arn"],
                        input=schedule["Target"].get("Input", "{}"),
                        delete_after=schedule.get("ActionAfterCompletion") == "DELETE",
                    )
                )
    return found
