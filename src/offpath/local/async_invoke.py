"""Asynchronous invocation, as Lambda runs it for schedules and other event sources.

EventBridge (rules and Scheduler) hands an event to Lambda, which queues it and
invokes the function; when that invocation fails (an error, a crash, a timeout):

- Lambda retries it ``MaximumRetryAttempts`` times (default 2), "with a one-minute
  wait between the first two attempts, and two minutes between the second and
  third" (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html);
- an event older than ``MaximumEventAgeInSeconds`` (default 6 hours) is not run again;
- then the event goes to the ``OnFailure`` destination, with an invocation record
  (``condition`` ``RetriesExhausted`` or ``EventAgeExceeded``), else to the function's
  ``DeadLetterQueue`` (the event as the body; ``RequestID``, ``ErrorCode`` and
  ``ErrorMessage`` attributes); a success goes to ``OnSuccess`` if there is one.

Time is the emulator's clock: a retry is due one minute later by that clock, so a
test moves the clock and calls :meth:`AsyncInvoker.run_due`; in the background the
emulator's schedule loop calls it twice a second.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from offpath.local.esm import InvocationFailed
from offpath.local.topology import AsyncConfig, Destination

# Waits before the second and third attempts.
RETRY_DELAYS_S = (60, 120)

Invoke = Callable[[str, Any, float], Any]  # function, event, clock offset (s) -> response
Send = Callable[[Destination, dict[str, Any], dict[str, str]], None]  # where, body, attributes
Submit = Callable[[Callable[[], object]], object]


@dataclass
class AsyncEvent:
    """One queued asynchronous event of one function."""

    function: str
    event: Any
    accepted_at: datetime
    due_at: datetime
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0
    last_error: str = ""


@dataclass(frozen=True)
class AsyncOutcome:
    function: str
    request_id: str
    attempts: int
    ok: bool
    response: Any = None
    error: str | None = None
    destination: str | None = None  # where the outcome went, if anywhere


class AsyncInvoker:
    """Lambda's internal queue for asynchronous invocations, one per emulator."""

    def __init__(
        self,
        invoke: Invoke,
        configs: dict[str, AsyncConfig],
        send: Send,
        clock: Callable[[], datetime],
        function_arn: Callable[[str], str],
        log: Callable[[str], None] = print,
    ) -> None:
        self.invoke = invoke
        self.configs = configs
        self.send = send
        self.clock = clock
        self.function_arn = function_arn
        self.log = log
        self.pending: list[AsyncEvent] = []
        self.outcomes: list[AsyncOutcome] = []
        self._lock = threading.Lock()

    def accept(self, function: str, event: Any, due_at: datetime | None = None) -> AsyncEvent:
        """Queue ``event`` for ``function`` (Lambda answers 202 here); runs when due."""
        now = self.clock()
        queued = AsyncEvent(function, event, accepted_at=now, due_at=due_at or now)
        with self._lock:
            self.pending.append(queued)
        return queued

    def run_due(self, submit: Submit | None = None) -> list[AsyncEvent]:
        """Run every queued event that is due by the emulator's clock.

        ``submit`` runs each attempt (a thread pool in the background); by default
        they run here, one after another, for a deterministic test.
        """
        now = self.clock()
        with self._lock:
            due = [e for e in self.pending if e.due_at <= now]
            self.pending = [e for e in self.pending if e.due_at > now]
        for queued in due:
            if submit is None:
                self._attempt(queued)
            else:
                submit(functools.partial(self._attempt, queued))
        return due

    def run_now(self, function: str, event: Any, at: datetime) -> Any:
        """Accept and run the first attempt here (``offpath schedules fire``); a failure
        is retried as any other, and raised to the caller too."""
        queued = AsyncEvent(function, event, accepted_at=self.clock(), due_at=at)
        outcome = self._attempt(queued)
        if not outcome.ok:
            raise InvocationFailed(outcome.error or "failed")
        return outcome.response

    # ------------------------------------------------------------------ one attempt
    def _attempt(self, queued: AsyncEvent) -> AsyncOutcome:
        config = self.configs.get(queued.function, AsyncConfig())
        queued.attempts += 1
        # The function runs as if at the attempt's own due time: a tick passed by a
        # jumped clock, or a retry one minute after the failure.
        offset_s = (queued.due_at - datetime.now(UTC)).total_seconds()
        try:
            response = self.invoke(queued.function, queued.event, offset_s)
        except InvocationFailed as exc:
            queued.last_error = str(exc)
            return self._failed(queued, config)
        destination = None
        if config.on_success is not None:
            record = self._record(queued, "Success", response, None)
            destination = self._deliver(config.on_success, record, {})
        outcome = AsyncOutcome(
            queued.function, queued.request_id, queued.attempts, True, response, None, destination
        )
        self.outcomes.append(outcome)
        return outcome

    def _failed(self, queued: AsyncEvent, config: AsyncConfig) -> AsyncOutcome:
        now = self.clock()
        age_s = (now - queued.accepted_at).total_seconds()
        retries_done = queued.attempts - 1
        if retries_done < config.max_retries:
            delay_s = RETRY_DELAYS_S[min(retries_done, len(RETRY_DELAYS_S) - 1)]
            retry_at = max(now, queued.due_at) + timedelta(seconds=delay_s)
            if (retry_at - queued.accepted_at).total_seconds() <= config.max_event_age_s:
                queued.due_at = retry_at
                with self._lock:
                    self.pending.append(queued)
                self.log(
                    f"{queued.function}: async invocation {queued.request_id} failed "
                    f"(attempt {queued.attempts}): {queued.last_error}; retry at {retry_at}"
                )
                return AsyncOutcome(
                    queued.function,
                    queued.request_id,
                    queued.attempts,
                    False,
                    None,
                    queued.last_error,
                )
            age_s = config.max_event_age_s + 1
        condition = "EventAgeExceeded" if age_s > config.max_event_age_s else "RetriesExhausted"
        destination = self._give_up(queued, config, condition)
        self.log(
            f"{queued.function}: async invocation {queued.request_id} failed "
            f"{queued.attempts} time(s) ({condition}): {queued.last_error}; "
            f"{'sent to ' + destination if destination else 'dropped (no destination)'}"
        )
        outcome = AsyncOutcome(
            queued.function,
            queued.request_id,
            queued.attempts,
            False,
            None,
            queued.last_error,
            destination,
        )
        self.outcomes.append(outcome)
        return outcome

    def _give_up(self, queued: AsyncEvent, config: AsyncConfig, condition: str) -> str | None:
        if config.on_failure is not None:
            record = self._record(queued, condition, None, queued.last_error)
            return self._deliver(config.on_failure, record, {})
        if config.dead_letter is not None:
            attributes = {
                "RequestID": queued.request_id,
                "ErrorCode": "200",
                "ErrorMessage": queued.last_error[:256],
            }
            return self._deliver(config.dead_letter, queued.event, attributes)
        return None

    def _deliver(self, where: Destination, body: Any, attributes: dict[str, str]) -> str | None:
        try:
            self.send(where, body, attributes)
        except Exception as exc:  # noqa: BLE001 -- a lost outcome is logged, never raised
            self.log(f"destination {where.arn}: {exc!r}")
            return None
        return where.arn

    def _record(
        self, queued: AsyncEvent, condition: str, response: Any, error: str | None
    ) -> dict[str, Any]:
        """Lambda's invocation record, as a destination receives it."""
        error_type, _, error_message = (error or "").partition(": ")
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if error is not None:
            response_context["functionError"] = "Unhandled"
        return {
            "version": "1.0",
            "timestamp": self.clock().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "requestContext": {
                "requestId": queued.request_id,
                "functionArn": f"{self.function_arn(queued.function)}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": queued.attempts,
            },
            "requestPayload": queued.event,
            "responseContext": response_context,
            "responsePayload": (
                response
                if error is None
                else {"errorType": error_type, "errorMessage": error_message or error}
            ),
        }


def as_message_body(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body)
