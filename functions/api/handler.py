"""ApiFunction: the FastAPI app behind API Gateway (HTTP or REST), through Mangum.

Thin on purpose: the app lives in :mod:`functions.api.app`.
"""

from __future__ import annotations

import warnings
from typing import Any, cast

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum
from mangum.types import LambdaContext as MangumContext

from functions.api.app import app
from functions.api.telemetry import logger, metrics
from offpath.tracing import traced_handler

# Most requests (health, status polls) record no metric; Powertools then warns on
# every invocation. Its documentation's filter for functions that expect that:
warnings.filterwarnings("ignore", "No application metrics to publish*")

# lifespan="off": the app has no startup work, and Mangum would run the lifespan
# on every invocation.
asgi = Mangum(app, lifespan="off")


# The request id starts as the logs' correlation id; the CorrelationId middleware
# replaces it with the caller's X-Correlation-Id once that header is validated
# (unvalidated header values never reach the logs).
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@traced_handler  # X-Ray, or off: its SDK is imported only when tracing is on
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # One object, typed twice: Powertools' and Mangum's protocols disagree on details.
    return asgi(event, cast(MangumContext, context))
