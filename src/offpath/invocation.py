"""The Lambda context of the invocation running now, for code deep inside a task.

Powertools idempotency needs the remaining time of the invocation to expire an
in-progress record; a task does not receive the context, so the worker publishes
it here for the duration of each invocation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_current: ContextVar[Any | None] = ContextVar("offpath_lambda_context", default=None)


def current_context() -> Any | None:
    """The Lambda context of the current invocation, or None outside one."""
    return _current.get()


@contextmanager
def invocation(context: Any | None) -> Iterator[None]:
    """Publish ``context`` as the current invocation's for the block."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)
