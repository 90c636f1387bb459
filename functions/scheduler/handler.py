"""SchedulerFunction: turns EventBridge schedule ticks into jobs on JobsQueue.

Thin on purpose: the logic lives in :mod:`offpath.schedules`.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from offpath import invocation
from offpath.aws import Clients
from offpath.metrics import TaskMetrics
from offpath.producer import Producer
from offpath.runtime import build_producer, load_tasks, per_container
from offpath.schedules import enqueue_scheduled, parse_scheduled_event
from offpath.settings import Settings
from offpath.tasks import TaskRegistry
from offpath.tracing import traced_handler

# A batch whose records were all handed back records no metric; that is normal here.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "offpath"))
# JobsEnqueued under a `task` dimension, flushed by the producer.
job_metrics = TaskMetrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "offpath"))


@per_container
def _wiring() -> tuple[TaskRegistry, Producer]:
    """Built on the first invocation and kept while the container is warm."""
    settings = Settings()
    producer = build_producer(settings, Clients(settings.region), metrics=job_metrics)
    return load_tasks(settings), producer


@logger.inject_lambda_context(clear_state=True)
@traced_handler  # X-Ray, or off: its SDK is imported only when tracing is on
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    registry, producer = _wiring()
    run = parse_scheduled_event(event, invocation.now())
    job = enqueue_scheduled(run, registry, producer)
    logger.set_correlation_id(job.job_id)
    logger.info(
        "scheduled job enqueued",
        extra={"task": run.task, "schedule": run.schedule, "duplicate": job.duplicate},
    )
    return {"job_id": job.job_id, "duplicate": job.duplicate}
