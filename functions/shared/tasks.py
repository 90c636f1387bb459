"""The example app's tasks, defined once and imported by the API, worker and scheduler.

Importing this module registers the tasks in offpath's default registry. It must
never import FastAPI: the worker and scheduler load it too.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from functions.shared import services
from offpath.errors import PermanentError
from offpath.invocation import current_context, now
from offpath.retry import Backoff
from offpath.runtime import per_container
from offpath.tasks import task

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

# A shape check, not RFC 5322: the provider is the judge of deliverability.
# Explicit classes, not \s or \d: JSON Schema and pydantic's regex engine read those
# differently, and the OpenAPI schema must say exactly what the server accepts.
Email = Annotated[
    str,
    Field(pattern=r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$", max_length=254),
]
PaymentId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Month = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-06"])]


@task(durable=False, timeout_s=10)
def send_welcome_email(email: Email) -> None:
    """Fire-and-forget: a lost welcome email is regrettable, not harmful."""
    services.record("email", to=email, template="welcome")


@task(max_attempts=5, backoff=Backoff(base_s=2, cap_s=300), timeout_s=30)
def generate_report(user_id: Annotated[int, Field(gt=0)], month: Month) -> dict[str, str]:
    """Durable: crunch a month of numbers and return where the PDF is."""
    url = f"https://reports.example.com/{user_id}/{month}.pdf"
    services.record("report", user_id=user_id, month=month, url=url)
    return {"url": url}


@task(max_attempts=5, backoff=Backoff(base_s=5, cap_s=600), timeout_s=30)
def charge_customer(
    payment_id: Annotated[str, Field(min_length=1, max_length=64)],
) -> dict[str, Any]:
    """Durable and guarded: a second run for the same payment charges nothing."""
    charge, config = _charge_once()
    context = current_context()
    if context is not None:
        config.register_lambda_context(context)
    return charge(payment_id=payment_id)


@per_container
def _charge_once() -> tuple[Callable[..., dict[str, Any]], IdempotencyConfig]:
    """The charge, wrapped in Powertools idempotency keyed on the payment id.

    Built on first use, not at import, so the DynamoDB client is made once per
    container and after the test's AWS endpoint is set. The records share JobsTable
    (``pk`` key, ``expires_at`` TTL) so the stack keeps one table.
    """
    # Imported here: only this task uses idempotency, and its import (boto3 with it)
    # would cost every function's cold start about 100 ms.
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(
        table_name=os.environ["OFFPATH_TABLE_NAME"],
        key_attr="pk",
        expiry_attr="expires_at",
    )
    config = IdempotencyConfig(expires_after_seconds=30 * 24 * 3600)

    def charge(payment_id: str) -> dict[str, Any]:
        services.record("charge", payment_id=payment_id)
        return {"payment_id": payment_id, "charged": True}

    guarded: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="payment_id", persistence_store=persistence, config=config
    )(charge)
    return guarded, config


@task(max_attempts=2, backoff=Backoff(base_s=1, cap_s=2, jitter="none"), timeout_s=5)
def always_fail() -> None:
    """Durable, fails every time: shows the road to the DLQ."""
    raise RuntimeError("always_fail failed, as it always does")


@task(max_attempts=10, backoff=Backoff(base_s=1, cap_s=1, jitter="none"), timeout_s=5)
def fail_until(until_epoch: float) -> dict[str, float]:
    """Durable, fails until the clock reaches ``until_epoch`` (seconds), then succeeds.

    A retry that ends well on any container, with no state shared between attempts:
    the end-to-end suite's (tests/e2e), locally and on a deployed stack.
    """
    if now().timestamp() < until_epoch:
        raise RuntimeError("fail_until: not yet")
    return {"until_epoch": until_epoch}


@task(max_attempts=1, timeout_s=5)
def reject(reason: str = "rejected") -> None:
    """Durable, raises a permanent error: straight to the DLQ, never retried."""
    raise PermanentError(reason)


@task(max_attempts=3, timeout_s=45)
def send_daily_digest() -> dict[str, int]:
    """Run by the DailyDigest schedule."""
    services.record("digest")
    return {"sent": 1}


@task(max_attempts=3, timeout_s=30)
def sync_exchange_rates() -> dict[str, int]:
    """Run by the ExchangeRates schedule."""
    services.record("exchange_rates")
    return {"rates": 1}


@task(pool="heavy", max_attempts=3, backoff=Backoff(base_s=30, cap_s=600), timeout_s=540)
def build_report_archive(
    user_id: Annotated[int, Field(gt=0)],
    months: Annotated[int, Field(ge=1, le=120)] = 12,
    rows_per_month: Annotated[int, Field(ge=1, le=200_000)] = 20_000,
) -> dict[str, Any]:
    """Heavy pool: CPU-bound work (builds and compresses a long report) that would
    crowd the quick jobs; it runs on HeavyWorkerFunction (3 GB, 10 minutes)."""
    digest = hashlib.sha256()
    packer = zlib.compressobj(level=9)
    raw = compressed = 0
    for month in range(months):
        lines = [
            f"{user_id},{month},{row},{(row * 2654435761 + month) % 100_003}\n"
            for row in range(rows_per_month)
        ]
        chunk = "".join(lines).encode()
        raw += len(chunk)
        digest.update(chunk)
        compressed += len(packer.compress(chunk))
    compressed += len(packer.flush())
    services.record("archive", user_id=user_id, months=months, bytes=compressed)
    return {"sha256": digest.hexdigest(), "raw_bytes": raw, "compressed_bytes": compressed}


@task(max_attempts=3, backoff=Backoff(base_s=2, cap_s=60), timeout_s=20)
async def check_shipment(
    order_id: Annotated[str, Field(min_length=1, max_length=64)],
    wait_s: Annotated[float, Field(ge=0, le=10)] = 0.5,
) -> dict[str, str]:
    """Durable, async and IO-bound: most of its time waits on a (simulated) carrier API,
    so the worker runs a batch of them together on one event loop."""
    started = time.monotonic()
    await asyncio.sleep(wait_s)  # the carrier's answer, awaited
    services.record("shipment", order_id=order_id, started=started, finished=time.monotonic())
    return {"order_id": order_id, "status": "in transit"}
