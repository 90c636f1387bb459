"""NewsletterApi: the app behind API Gateway, through Mangum."""

from __future__ import annotations

import warnings
from typing import Any

from mangum import Mangum

from newsletter.api import app, logger

# Powertools metrics are not used here; nothing to warn about.
warnings.filterwarnings("ignore", "No application metrics to publish*")

asgi = Mangum(app, lifespan="off")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return asgi(event, context)
