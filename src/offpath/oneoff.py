"""One-off EventBridge Scheduler schedules: delays beyond SQS's 15 minutes.

Each long-delayed job gets a one-time ``at(...)`` schedule whose target sends the
job's envelope to its queue, then deletes itself (``ActionAfterCompletion:
DELETE``). Failed deliveries are retried by Scheduler and end in the DLQ.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError, ClientError

from offpath.errors import OffpathError

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_scheduler.type_defs import RetryPolicyTypeDef, TargetTypeDef

# Scheduler retries a failed delivery for up to a day before the DLQ.
RETRY_POLICY: RetryPolicyTypeDef = {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
SCHEDULE_NAME_MAX = 64


class ScheduleError(OffpathError):
    """EventBridge Scheduler refused to create or delete a schedule."""


def schedule_name_for(job_id: str) -> str:
    """The schedule of a job: ``job-<id>``, hashed when the id is too long for a name."""
    name = f"job-{job_id}"
    if len(name) <= SCHEDULE_NAME_MAX and all(c.isalnum() or c in "-_." for c in job_id):
        return name
    return "job-" + hashlib.sha256(job_id.encode()).hexdigest()[:40]


def at_expression(when: datetime) -> tuple[str, str]:
    """``at(...)`` and its time zone: a ZoneInfo time keeps its zone, others go to UTC."""
    if when.tzinfo is None:
        raise ValueError("a schedule time must be timezone-aware")
    zone = "UTC"
    if isinstance(when.tzinfo, ZoneInfo):
        zone = when.tzinfo.key
    else:
        when = when.astimezone(UTC)
    return f"at({when:%Y-%m-%dT%H:%M:%S})", zone


@dataclass
class OneOffScheduler:
    """Creates and deletes one-time schedules in the stack's schedule group."""

    client: EventBridgeSchedulerClient
    group: str
    role_arn: str
    queue_arn: str
    dead_letter_arn: str

    def create(self, name: str, when: datetime, body: str, queue_arn: str | None = None) -> bool:
        """A one-time schedule sending ``body`` to ``queue_arn`` (default: this one's queue).

        Returns False if one of that name exists already: a schedule is named for its
        job, so it is this job's, made by an earlier call whose answer was lost, and
        left as it is.
        """
        expression, zone = at_expression(when)
        target: TargetTypeDef = {
            "Arn": queue_arn or self.queue_arn,
            "RoleArn": self.role_arn,
            "Input": body,
            "RetryPolicy": RETRY_POLICY,
            "DeadLetterConfig": {"Arn": self.dead_letter_arn},
        }
        try:
            self.client.create_schedule(
                Name=name,
                GroupName=self.group,
                ScheduleExpression=expression,
                ScheduleExpressionTimezone=zone,
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target=target,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConflictException":
                return False
            raise ScheduleError(f"cannot create schedule {name}: {exc}") from exc
        except BotoCoreError as exc:  # a timeout: the schedule may exist all the same
            raise ScheduleError(f"cannot create schedule {name}: {exc}") from exc
        return True

    def delete(self, name: str) -> bool:
        """Delete a schedule; False if it was already gone (fired, or deleted)."""
        try:
            self.client.delete_schedule(Name=name, GroupName=self.group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise ScheduleError(f"cannot delete schedule {name}: {exc}") from exc
        except BotoCoreError as exc:
            raise ScheduleError(f"cannot delete schedule {name}: {exc}") from exc
        return True
