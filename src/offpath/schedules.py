"""Scheduled work: EventBridge ticks into jobs, one job per tick.

EventBridge (rules and Scheduler) delivers at least once, so a tick's job id is
derived from the schedule's name and the tick's time (arq's ``name:run_time``): a
duplicated delivery of the same tick finds the job already created and sends
nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from offpath.errors import MalformedMessage
from offpath.producer import Enqueued, JobRequest, Producer
from offpath.tasks import TaskRegistry, format_validation_error

# EventBridge Scheduler fills these in a target's Input at each invocation.
SCHEDULED_TIME_PLACEHOLDER = "<aws.scheduler.scheduled-time>"
SCHEDULE_ARN_PLACEHOLDER = "<aws.scheduler.schedule-arn>"


class ScheduledRun(BaseModel):
    """What a schedule's Input asks for."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    schedule: str | None = Field(default=None, description="the schedule's name")
    scheduled_time: datetime | None = Field(
        default=None, description=f"the tick; ScheduleV2 fills {SCHEDULED_TIME_PLACEHOLDER}"
    )


def parse_scheduled_event(event: Any, now: datetime) -> ScheduledRun:
    """Read the event a schedule delivers.

    Accepts a schedule's JSON Input (what Lambda receives when the event has an
    Input) and EventBridge's own ``Scheduled Event`` whose ``detail`` carries it.
    A rule's constant Input cannot carry the tick's time, so the tick is then the
    invocation's minute: rules fire at minute granularity.

    Raises:
        MalformedMessage: the event is not a schedule's input.
    """
    if not isinstance(event, dict):
        raise MalformedMessage("a scheduled event must be a JSON object")
    data = dict(event)
    if data.get("detail-type") == "Scheduled Event":
        resources = data.get("resources") or [""]
        data = {
            **(data.get("detail") or {}),
            "schedule": str(resources[0]).rsplit("/", 1)[-1] or None,
            "scheduled_time": data.get("time"),
        }
    if data.get("scheduled_time") == SCHEDULED_TIME_PLACEHOLDER:
        data["scheduled_time"] = None  # not substituted: invoked by hand
    try:
        run = ScheduledRun.model_validate(data)
    except ValidationError as exc:
        raise MalformedMessage(f"invalid schedule input: {format_validation_error(exc)}") from exc
    if run.scheduled_time is None:
        run.scheduled_time = now.astimezone(UTC).replace(second=0, microsecond=0)
    return run


def scheduled_job_id(schedule: str, tick: datetime) -> str:
    """The one job id of one tick of one schedule."""
    name = "".join(c if c.isalnum() or c in "_-" else "-" for c in schedule)[:80]
    return f"sched-{name}-{tick.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def enqueue_scheduled(run: ScheduledRun, registry: TaskRegistry, producer: Producer) -> Enqueued:
    """Enqueue the tick's job; a duplicate tick returns the existing job."""
    task = registry.get(run.task)
    assert run.scheduled_time is not None
    job_id = scheduled_job_id(run.schedule or task.name, run.scheduled_time)
    return producer.enqueue(
        JobRequest(task=task, args=task.validate(run.args), job_id=job_id, correlation_id=job_id)
    )
