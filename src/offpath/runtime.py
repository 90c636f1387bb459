"""Wiring for the Lambda handlers: settings and clients in, ready objects out.

The handlers call these once per container (cold start) and reuse the result.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from offpath import invocation
from offpath.aws import Clients
from offpath.oneoff import OneOffScheduler
from offpath.producer import Producer
from offpath.settings import Settings
from offpath.store import DynamoDBJobStore
from offpath.tasks import TaskRegistry, registry

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

    from offpath.metrics import MetricsSink, TaskMetricsSink
    from offpath.worker import Worker


def load_tasks(settings: Settings, target: TaskRegistry = registry) -> TaskRegistry:
    """Import the modules named in ``OFFPATH_TASK_MODULES`` so their tasks register."""
    for module in filter(None, (m.strip() for m in settings.task_modules.split(","))):
        importlib.import_module(module)
    return target


def build_store(settings: Settings, clients: Clients) -> DynamoDBJobStore:
    return DynamoDBJobStore(
        clients.dynamodb, settings.table_name, ttl_s=settings.job_ttl_s, clock=invocation.now
    )


def build_producer(
    settings: Settings, clients: Clients, *, metrics: TaskMetricsSink | None = None
) -> Producer:
    """The producer; with the Scheduler settings, it also takes delays over 15 minutes."""
    scheduler = None
    if settings.scheduler_role_arn and settings.queue_arn:
        scheduler = OneOffScheduler(
            clients.scheduler,
            settings.scheduler_group,
            settings.scheduler_role_arn,
            settings.queue_arn,
            settings.scheduler_dlq_arn or settings.queue_arn,
        )
    return Producer(
        clients.sqs,
        settings.queue_url,
        build_store(settings, clients),
        scheduler=scheduler,
        metrics=metrics,
        clock=invocation.now,
    )


def build_worker(
    settings: Settings,
    clients: Clients,
    *,
    logger: Logger | None = None,
    metrics: MetricsSink | None = None,
    tracer: Tracer | None = None,
) -> Worker:
    # Imported here: the API builds producers and must not load the worker runtime.
    from offpath.deadletters import DeadLetterQueue
    from offpath.worker import Worker

    return Worker(
        registry=load_tasks(settings),
        store=build_store(settings, clients),
        sqs=clients.sqs,
        dead_letters=DeadLetterQueue(clients.sqs, settings.dlq_url, clock=invocation.now),
        logger=logger,
        metrics=metrics,
        tracer=tracer,
        clock=invocation.now,
    )
