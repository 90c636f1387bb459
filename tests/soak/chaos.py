"""Faults injected inside the worker's processes, for the chaos soak only.

Imported by :mod:`tests.soak.tasks` (``OFFPATH_TASK_MODULES``), so it runs in each
Lambda-like worker process before the worker builds its AWS clients.

- **Throttling**: a botocore ``before-send`` handler answers a fraction of the SQS
  and DynamoDB requests (``OFFPATH_SOAK_THROTTLE_RATES``, e.g.
  ``sqs=0.25,dynamodb=0.03``) with the HTTP
  response AWS sends when it throttles (SQS ``ThrottlingException``, DynamoDB
  ``ProvisionedThroughputExceededException``, both HTTP 400). The request never
  reaches the endpoint, and botocore's standard retry mode retries it with
  backoff, as it would on AWS. It is added to ``botocore.handlers.BUILTIN_HANDLERS``,
  the list every new botocore session registers (moto's own mock uses it), so every
  client the process builds gets it: the worker's, and Powertools idempotency's.
- **Once markers**: a crash or hang planned for a job happens on its first run only,
  across processes (``O_EXCL`` files in ``OFFPATH_SOAK_DIR``).
- **Chaos log**: one line per injected fault in ``OFFPATH_SOAK_DIR/chaos.jsonl``,
  so the report counts what actually happened.
"""

from __future__ import annotations

import io
import json
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

THROTTLE_RATES_ENV = "OFFPATH_SOAK_THROTTLE_RATES"
SOAK_DIR_ENV = "OFFPATH_SOAK_DIR"

_THROTTLES = {
    # service id -> (error code, JSON protocol target prefix, message)
    "sqs": ("ThrottlingException", "com.amazonaws.sqs", "Rate exceeded"),
    "dynamodb": (
        "ProvisionedThroughputExceededException",
        "com.amazonaws.dynamodb.v20120810",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
}


def soak_dir() -> Path:
    return Path(os.environ[SOAK_DIR_ENV])


def log_fault(kind: str, **fields: Any) -> None:
    """Append one line to the chaos log (one ``O_APPEND`` write: lines never interleave)."""
    line = json.dumps({"kind": kind, "pid": os.getpid(), **fields}) + "\n"
    fd = os.open(soak_dir() / "chaos.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def first_time(marker: str) -> bool:
    """True the first time ``marker`` is asked for, in any process."""
    markers = soak_dir() / "markers"
    markers.mkdir(exist_ok=True)
    try:
        (markers / marker).touch(exist_ok=False)
    except FileExistsError:
        return False
    return True


class _Raw(io.BytesIO):
    """The raw body botocore reads from an HTTP response."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def throttled_response(service: str, url: str) -> AWSResponse:
    """The response AWS sends a throttled JSON-protocol request."""
    code, prefix, message = _THROTTLES[service]
    body = json.dumps({"__type": f"{prefix}#{code}", "message": message}).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "x-amzn-RequestId": str(uuid.uuid4()),
        # SQS speaks JSON with query-compatible error codes.
        **({"x-amzn-query-error": f"{code};Sender"} if service == "sqs" else {}),
    }
    return AWSResponse(url, 400, HTTPHeaders.from_dict(headers), _Raw(body))


def parse_rates(text: str) -> dict[str, float]:
    """``"sqs=0.25,dynamodb=0.03"`` -> ``{"sqs": 0.25, "dynamodb": 0.03}``."""
    rates = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        service, _, rate = part.partition("=")
        if service not in _THROTTLES:
            raise ValueError(f"cannot throttle {service!r}: only {sorted(_THROTTLES)}")
        rates[service] = float(rate)
    return rates


def format_rates(rates: dict[str, float]) -> str:
    return ",".join(f"{service}={rate}" for service, rate in sorted(rates.items()))


class Throttler:
    """Answers a fraction of each service's requests with a throttling error."""

    def __init__(self, rates: dict[str, float], rng: random.Random | None = None) -> None:
        self.rates = rates
        self.rng = rng or random.Random()

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        service = event_name.split(".")[1]
        if self.rng.random() >= self.rates.get(service, 0.0):
            return None  # botocore sends the request
        operation = event_name.split(".")[2] if event_name.count(".") >= 2 else "?"
        log_fault("throttle", service=service, operation=operation)
        return throttled_response(service, request.url)


def install() -> None:
    """Register the throttler for every botocore session this process creates from now."""
    rates = parse_rates(os.environ.get(THROTTLE_RATES_ENV, ""))
    if not any(rates.values()):
        return
    throttler = Throttler(rates)
    for service in rates:
        botocore.handlers.BUILTIN_HANDLERS.append((f"before-send.{service}", throttler))
