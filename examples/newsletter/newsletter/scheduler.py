"""NewsletterCron: turns the template's schedules into jobs, one per tick."""

from __future__ import annotations

from typing import Any

from offpath import invocation
from offpath.aws import Clients
from offpath.producer import Producer
from offpath.runtime import build_producer, load_tasks, per_container
from offpath.schedules import enqueue_scheduled, parse_scheduled_event
from offpath.settings import Settings
from offpath.tasks import TaskRegistry


@per_container
def _wiring() -> tuple[TaskRegistry, Producer]:
    settings = Settings()
    return load_tasks(settings), build_producer(settings, Clients(settings.region))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    registry, producer = _wiring()
    run = parse_scheduled_event(event, invocation.now())
    job = enqueue_scheduled(run, registry, producer)
    return {"job_id": job.job_id, "duplicate": job.duplicate}
