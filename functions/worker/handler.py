"""WorkerFunction: consumes JobsQueue batches and reports partial failures.

Thin on purpose: the runtime lives in :mod:`offpath.worker`.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from offpath.aws import Clients
from offpath.metrics import TaskMetrics
from offpath.runtime import build_worker, per_container
from offpath.settings import Settings
from offpath.tracing import traced_handler
from offpath.worker import Worker  # every invocation runs it: loaded at INIT

logger = Logger()
# Per-job metrics carry a `task` dimension; the worker flushes them after each batch.
metrics = TaskMetrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "offpath"))


@per_container
def worker() -> Worker:
    """Built on the first invocation and kept while the container is warm."""
    settings = Settings()
    return build_worker(settings, Clients(settings.region), logger=logger, metrics=metrics)


@logger.inject_lambda_context(clear_state=True)
@traced_handler  # X-Ray, or off: its SDK is imported only when tracing is on
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return worker().handle(event, context)
