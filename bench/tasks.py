"""The task the cost benchmark runs through the emulator, in its four forms.

``bench_job`` does what ``generate_report`` does (one side effect, a small result);
``fail_first`` makes its first attempt fail, so the job succeeds on its retry;
``layered`` runs the body under Powertools idempotency, keyed on the token, on top
of offpath's own job record: the design offpath's per-job cost is compared with.

The worker loads this module through ``OFFPATH_TASK_MODULES``; first attempts are
marked in files beside the outbox (``EXAMPLE_OUTBOX``), which every worker process
shares.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from functions.shared import services

from offpath.invocation import current_context
from offpath.retry import Backoff
from offpath.tasks import task

# A minute, not a second: a retry then never comes back on its own while the
# benchmark is still draining, only when it moves the emulator's clock.
RETRY_AFTER_S = 60


@task(max_attempts=3, backoff=Backoff(base_s=RETRY_AFTER_S, cap_s=RETRY_AFTER_S, jitter="none"))
def bench_job(token: str, fail_first: bool = False, layered: bool = False) -> dict[str, str]:
    """A durable job like ``generate_report``; see the module docstring for the flags."""
    if not layered:
        return _body(token=token, fail_first=fail_first)
    guarded, config = _layered()
    context = current_context()
    if context is not None:
        config.register_lambda_context(context)
    return guarded(token=token, fail_first=fail_first)


def _body(token: str, fail_first: bool) -> dict[str, str]:
    services.record("bench", token=token)
    if fail_first and _first_attempt(token):
        raise RuntimeError("the first attempt fails, on purpose")
    return {"url": f"https://reports.example.com/bench/{token}.pdf"}


def _first_attempt(token: str) -> bool:
    """True the first time a token asks: a marker file beside the outbox, O(1) per job."""
    markers = Path(os.environ["EXAMPLE_OUTBOX"]).with_suffix(".attempts")
    markers.mkdir(exist_ok=True)
    try:
        (markers / token).touch(exist_ok=False)
    except FileExistsError:
        return False
    return True


@functools.cache
def _layered() -> tuple[Callable[..., dict[str, str]], IdempotencyConfig]:
    """The body under Powertools idempotency, built as functions.shared.tasks builds it."""
    persistence = DynamoDBPersistenceLayer(
        table_name=os.environ["OFFPATH_TABLE_NAME"], key_attr="pk", expiry_attr="expires_at"
    )
    config = IdempotencyConfig(expires_after_seconds=3600)
    guarded: Callable[..., dict[str, str]] = idempotent_function(
        data_keyword_argument="token", persistence_store=persistence, config=config
    )(_body)
    return guarded, config
