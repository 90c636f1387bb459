"""EventBridge's side of a schedule: delivering to the target, retried, then dead-lettered.

Rules and Scheduler deliver each event to its target; when delivery fails they retry
"with exponential back off and jitter" for up to ``MaximumRetryAttempts`` (default
185) and ``MaximumEventAgeInSeconds`` (default 24 h), then send the event to the
target's ``DeadLetterConfig`` queue, with attributes naming why
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-dlq.html,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).

AWS does not document its exact back-off; here it starts at 1 s and doubles up to
5 minutes, by the emulator's clock. For a Lambda target, delivery is Lambda taking
the event (asynchronous invocation): what the function then does is Lambda's
business (:mod:`offpath.local.async_invoke`). For an SQS target (the one-off
schedules of delayed jobs), delivery is the SendMessage itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from offpath.local.topology import RetryPolicy

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 300.0


@dataclass
class PendingDelivery:
    name: str  # the schedule's, for the log
    deliver: Callable[[int], None]  # the attempt number (1, 2, ...) -> raises if it failed
    dead_letter: Callable[[Exception, int], None] | None
    policy: RetryPolicy
    first_at: datetime
    due_at: datetime
    attempts: int = 0


class Deliveries:
    """Deliveries that failed and wait for their next attempt."""

    def __init__(self, clock: Callable[[], datetime], log: Callable[[str], None] = print) -> None:
        self.clock = clock
        self.log = log
        self.pending: list[PendingDelivery] = []
        self.dead_lettered: list[tuple[str, str]] = []  # (name, error)
        self._lock = threading.Lock()

    def attempt(
        self,
        name: str,
        deliver: Callable[[int], None],
        policy: RetryPolicy,
        dead_letter: Callable[[Exception, int], None] | None,
    ) -> bool:
        """Deliver now; on failure, retry later as the policy says. True if delivered."""
        now = self.clock()
        pending = PendingDelivery(name, deliver, dead_letter, policy, now, now)
        return self._try(pending)

    def run_due(self) -> int:
        """Retry every delivery now due; returns how many were tried."""
        now = self.clock()
        with self._lock:
            due = [p for p in self.pending if p.due_at <= now]
            self.pending = [p for p in self.pending if p.due_at > now]
        for pending in due:
            self._try(pending)
        return len(due)

    def _try(self, pending: PendingDelivery) -> bool:
        pending.attempts += 1
        try:
            pending.deliver(pending.attempts)
        except Exception as exc:  # noqa: BLE001 -- any failure of a delivery is retried
            self._failed(pending, exc)
            return False
        return True

    def _failed(self, pending: PendingDelivery, exc: Exception) -> None:
        now = self.clock()
        retries_done = pending.attempts - 1
        delay_s = min(MAX_RETRY_S, FIRST_RETRY_S * 2**retries_done)
        retry_at = now + timedelta(seconds=delay_s)
        age_s = (retry_at - pending.first_at).total_seconds()
        if retries_done < pending.policy.max_retries and age_s <= pending.policy.max_event_age_s:
            pending.due_at = retry_at
            with self._lock:
                self.pending.append(pending)
            self.log(f"{pending.name}: delivery failed ({exc}); retry at {retry_at}")
            return
        self.dead_lettered.append((pending.name, str(exc)))
        if pending.dead_letter is None:
            self.log(f"{pending.name}: delivery failed {pending.attempts} time(s); dropped: {exc}")
            return
        try:
            pending.dead_letter(exc, pending.attempts)
            self.log(f"{pending.name}: delivery failed {pending.attempts} time(s); dead-lettered")
        except Exception as dlq_exc:  # noqa: BLE001 -- the event is lost, as on AWS; say so
            self.log(f"{pending.name}: dead-letter queue failed too ({dlq_exc}); event lost")


def error_code(exc: Exception) -> str:
    """The AWS error code of a failed call, or the exception's type."""
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(exc).__name__))
    return type(exc).__name__
