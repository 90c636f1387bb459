"""The API function's Powertools objects, one of each per container (tracing: offpath's).

They live here rather than in :mod:`functions.api.handler` because the app's
middleware also uses the logger (to stamp the request's correlation id on every
line), and the handler imports the app: one module owning them avoids a cycle.
Building them reads environment variables only; no AWS call happens at import.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

from offpath.metrics import TaskMetrics

logger = Logger()
metrics = Metrics()
# JobsEnqueued under a `task` dimension, as the worker files its job metrics.
job_metrics = TaskMetrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "offpath"))
