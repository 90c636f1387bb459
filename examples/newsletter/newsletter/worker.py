"""NewsletterWorker: consumes its queue's batches and reports partial failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from offpath.aws import Clients
from offpath.runtime import build_worker, per_container
from offpath.settings import Settings
from offpath.worker import Worker

logger = Logger(service="newsletter-worker")


@per_container
def worker() -> Worker:
    """Built on the first invocation and kept while the container is warm."""
    settings = Settings()  # OFFPATH_* from template.yaml: queue, DLQ, table, task modules
    return build_worker(settings, Clients(settings.region), logger=logger)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return worker().handle(event, context)
