"""The template's schedules, fired locally at the times EventBridge would fire them.

Fire times come from :mod:`offpath.cron`, the same computation ``offpath schedules
list`` prints, so what the list says is what fires.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from offpath.cron import AtExpression, ScheduleExpression, parse_expression, validate_expression
from offpath.local.topology import RetryPolicy, ScheduleSpec, Topology

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient


@dataclass
class LocalSchedule:
    """One template schedule and its next tick."""

    spec: ScheduleSpec
    expression: ScheduleExpression
    target_arn: str
    arn: str
    next_at: datetime | None = None  # the next tick (its scheduled time)
    fired: list[datetime] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random, repr=False)
    # When the next tick fires: later than next_at within a FlexibleTimeWindow.
    next_fire_at: datetime | None = None

    @property
    def tz(self) -> ZoneInfo | None:
        return ZoneInfo(self.spec.timezone) if self.spec.timezone else None

    def next_after(self, moment: datetime, count: int = 1) -> list[datetime]:
        return self.expression.next_fire_times(moment, count, tz=self.tz)

    def schedule(self, tick: datetime | None) -> None:
        """Make ``tick`` the next one; with a flexible window, Scheduler invokes the
        target at a random moment within it after the scheduled time."""
        self.next_at = tick
        window_s = self.spec.flexible_window_s
        jitter_s = self.rng.uniform(0, window_s) if window_s else 0.0
        self.next_fire_at = tick + timedelta(seconds=jitter_s) if tick else None

    def due(self, now: datetime) -> list[datetime]:
        """Every tick whose firing time is up to ``now``, not fired yet (a jumped clock
        fires each one)."""
        ticks = []
        while self.next_at is not None and self.next_fire_at is not None:
            if self.next_fire_at > now:
                break
            ticks.append(self.next_at)
            following = self.next_after(self.next_at)
            self.schedule(following[0] if following else None)
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


def _substitute(text: str, tick: datetime, arn: str, attempt: int = 1) -> str:
    """EventBridge Scheduler's context attributes, filled in as it does."""
    values = {
        "<aws.scheduler.scheduled-time>": tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.schedule-arn>": arn,
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": str(attempt),
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def load_schedules(
    topology: Topology, now: datetime, rng: random.Random | None = None
) -> dict[str, LocalSchedule]:
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
                rng=rng or random.Random(),  # noqa: S311 -- a firing delay, not a secret
            )
            if spec.enabled:
                upcoming = local.next_after(now)
                local.schedule(upcoming[0] if upcoming else None)
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
    delete_after: bool  # ActionAfterCompletion DELETE; NONE keeps it, fired once
    arn: str = ""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    dead_letter_arn: str | None = None
    flexible_window_s: float = 0.0

    @property
    def key(self) -> tuple[str, str, datetime]:
        """One firing: a schedule updated to another time fires again."""
        return (self.group, self.name, self.due_at)


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
                target = schedule["Target"]
                retry = target.get("RetryPolicy") or {}
                window = schedule.get("FlexibleTimeWindow") or {}
                found.append(
                    OneOff(
                        name=schedule["Name"],
                        group=group,
                        expression=schedule["ScheduleExpression"],
                        timezone=zone,
                        due_at=expression.when.replace(tzinfo=tz).astimezone(UTC),
                        target_arn=target["Arn"],
                        input=target.get("Input", "{}"),
                        delete_after=schedule.get("ActionAfterCompletion") == "DELETE",
                        arn=schedule.get("Arn", ""),
                        retry=RetryPolicy(
                            max_retries=int(retry.get("MaximumRetryAttempts", 185)),
                            max_event_age_s=int(retry.get("MaximumEventAgeInSeconds", 86_400)),
                        ),
                        dead_letter_arn=(target.get("DeadLetterConfig") or {}).get("Arn"),
                        flexible_window_s=(
                            float(window.get("MaximumWindowInMinutes", 0)) * 60
                            if window.get("Mode") == "FLEXIBLE"
                            else 0.0
                        ),
                    )
                )
    return found
