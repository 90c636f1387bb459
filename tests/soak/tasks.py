"""The soak's tasks: one side effect per job, with faults at chosen points.

``soak_effect`` is written as the README tells users to write a durable task with a
side effect (``charge_customer`` is the example): the job's claim keeps two
deliveries from running at once, and Powertools idempotency, keyed on the side
effect's own key and stored in JobsTable, keeps a re-run from repeating the effect.
The effect is one line in the ledger (``functions.shared.services``, the outbox the
example tasks write to), so a duplicate would show as a second line.

Where each planned fault strikes (each once per job, whichever process runs it):

- ``fail_first=k``: the first k attempts raise a retryable error (backoff, retry);
- ``hang``: the process stops answering signals and sleeps past the function's
  Timeout, so the emulator kills it mid-batch (a task stuck in C code would);
- ``crash="before"``: ``os._exit`` after the claim, before the effect;
- ``crash="after"``: ``os._exit`` after the effect and its idempotency record, before
  the worker records success: the re-run must find the effect done;
- ``crash="window"``: ``os._exit`` after the effect but before Powertools completes
  its record. No key-based guard can close this gap unless the effect's target
  checks the key itself (a payment provider's idempotency key): the re-run repeats
  the effect. The report counts these re-runs apart from duplicates, and also
  those of unplanned interruptions in the same window (a function timeout, the
  task's deadline, or throttling retries that outlast it while Powertools writes
  its record).
"""

from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Callable
from typing import Any, Literal

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from functions.shared import services

from offpath.errors import PermanentError
from offpath.invocation import current_context
from offpath.retry import Backoff
from offpath.tasks import task
from tests.soak import chaos

chaos.install()

Crash = Literal["", "before", "after", "window"]
TIMEOUT_S = 3.0  # the task's own timeout; the function's is 10 s (tests/soak/template.yaml)
EFFECT = "effect"  # the ledger's kind for the side effect
# Written once Powertools has recorded the effect as done: an effect after this
# line is one the guard let through; an effect before it re-ran after a run was
# interrupted inside the window (between the effect and that record).
GUARDED = "guarded"


class Flaky(Exception):
    """A retryable failure the soak planned."""


@task(max_attempts=10, backoff=Backoff(base_s=1, cap_s=4), timeout_s=TIMEOUT_S)
def soak_effect(
    key: str, fail_first: int = 0, crash: Crash = "", hang: bool = False
) -> dict[str, Any]:
    """One side effect for ``key``, once, whatever the faults."""
    for n in range(1, fail_first + 1):
        if chaos.first_time(f"{key}.fail.{n}"):
            chaos.log_fault("transient", key=key)
            raise Flaky(f"planned failure {n} of {fail_first}")
    if hang and chaos.first_time(f"{key}.hang"):
        chaos.log_fault("hang", key=key)
        # SIGALRM is how the worker enforces the task's timeout: blocked, only the
        # function's Timeout (the emulator killing the process) ends this.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)
    _exit_once(crash == "before", key, "before")
    effect, config = _guarded_effect()
    context = current_context()
    if context is not None:
        config.register_lambda_context(context)
    result = effect(key=key, crash_in_window=crash == "window")
    services.record(GUARDED, job_id=key, pid=os.getpid(), t=time.time())
    _exit_once(crash == "after", key, "after")
    return result


@task(max_attempts=1, timeout_s=TIMEOUT_S)
def soak_poison(key: str) -> None:
    """Can never succeed: dead-lettered at once with permanent_error."""
    raise PermanentError(f"{key} is poison")


@task(max_attempts=2, backoff=Backoff(base_s=1, cap_s=1, jitter="none"), timeout_s=TIMEOUT_S)
def soak_always_flaky(key: str) -> None:
    """Fails every attempt: dead-lettered with max_attempts after its last."""
    raise Flaky(f"{key} always fails")


def _exit_once(when: bool, key: str, point: str) -> None:
    if when and chaos.first_time(f"{key}.crash.{point}"):
        chaos.log_fault("crash", key=key, point=point)
        os._exit(17)


@functools.cache
def _guarded_effect() -> tuple[Callable[..., dict[str, Any]], IdempotencyConfig]:
    """The effect wrapped in Powertools idempotency, as ``charge_customer`` wraps its charge."""
    persistence = DynamoDBPersistenceLayer(
        table_name=os.environ["OFFPATH_TABLE_NAME"], key_attr="pk", expiry_attr="expires_at"
    )
    config = IdempotencyConfig(expires_after_seconds=24 * 3600)

    def effect(key: str, crash_in_window: bool) -> dict[str, Any]:
        services.record(EFFECT, job_id=key, pid=os.getpid(), t=time.time())
        _exit_once(crash_in_window, key, "window")
        return {"key": key, "done": True}

    guarded: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="key", persistence_store=persistence, config=config
    )(effect)
    return guarded, config
