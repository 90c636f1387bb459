"""Fault injection at botocore's event hooks, for the regression tests and the simulation.

A fault is raised from a handler botocore calls around one API call, never by
patching boto3:

- ``before-call``: the request never reached AWS (what botocore raises after its
  own retries gave up); nothing took effect.
- ``after-call``: AWS did the work, and the answer was lost on the way back (a read
  timeout, a dropped connection): the caller sees an error for a call that took
  effect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import botocore.handlers
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

Fault = Callable[[str], Exception]


def read_timeout(operation: str) -> Exception:
    return ReadTimeoutError(endpoint_url=f"https://aws.example/{operation}")


def connection_error(operation: str) -> Exception:
    return EndpointConnectionError(endpoint_url=f"https://aws.example/{operation}")


def internal_error(operation: str) -> Exception:
    response: Any = {
        "Error": {"Code": "InternalError", "Message": "injected"},
        "ResponseMetadata": {"HTTPStatusCode": 500, "RetryAttempts": 0},
    }
    return ClientError(response, operation)


def refused(operation: str) -> Exception:
    """A refusal on the first try (a 400 that is not a throttle): surely not done."""
    response: Any = {
        "Error": {"Code": "InvalidParameterValue", "Message": "injected"},
        "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 0},
    }
    return ClientError(response, operation)


def throttled(operation: str) -> Exception:
    response: Any = {
        "Error": {"Code": "ThrottlingException", "Message": "injected"},
        "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 3},
    }
    return ClientError(response, operation)


class Faults:
    """Faults for the next calls of named operations, on every client it is attached to.

    Example:
        >>> faults = Faults().attach(stack.clients.sqs)  # doctest: +SKIP
        >>> faults.add("SendMessage", "after", read_timeout)  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._planned: list[tuple[str, str, Fault, int]] = []
        self.raised: list[tuple[str, str]] = []

    def add(self, operation: str, when: str, fault: Fault, times: int = 1) -> Faults:
        """Fail the next ``times`` calls of ``operation`` (``when``: before/after)."""
        assert when in ("before", "after")
        self._planned.append((operation, when, fault, times))
        return self

    def clear(self) -> None:
        """Drop the faults not raised yet."""
        self._planned.clear()

    def attach(self, client: Any) -> Faults:
        client.meta.events.register("before-call", self._before)
        client.meta.events.register("after-call", self._after)
        return self

    def _take(self, operation: str, when: str) -> Fault | None:
        for n, (op, w, fault, times) in enumerate(self._planned):
            if op == operation and w == when:
                if times <= 1:
                    del self._planned[n]
                else:
                    self._planned[n] = (op, w, fault, times - 1)
                return fault
        return None

    def _before(self, model: Any, **_: Any) -> None:
        fault = self._take(model.name, "before")
        if fault is not None:
            self.raised.append((model.name, "before"))
            raise fault(model.name)

    def _after(self, model: Any, **_: Any) -> None:
        fault = self._take(model.name, "after")
        if fault is not None:
            self.raised.append((model.name, "after"))
            raise fault(model.name)


@contextmanager
def on_every_session(faults: Faults) -> Iterator[Faults]:
    """Attach ``faults`` to every client of every botocore session made meanwhile.

    The functions build their own clients (``offpath.aws.Clients``) on their first
    invocation: botocore registers its built-in handlers on each new session, so a
    handler added to that list reaches those clients too.
    """
    added = [("before-call", faults._before), ("after-call", faults._after)]
    botocore.handlers.BUILTIN_HANDLERS.extend(added)
    try:
        yield faults
    finally:
        for entry in added:
            botocore.handlers.BUILTIN_HANDLERS.remove(entry)
