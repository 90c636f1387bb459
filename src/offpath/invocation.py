"""The Lambda context of the invocation running now, for code deep inside a task.

Powertools idempotency needs the remaining time of the invocation to expire an
in-progress record; a task does not receive the context, so the worker publishes
it here for the duration of each invocation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

_current: ContextVar[Any | None] = ContextVar("offpath_lambda_context", default=None)
# Only `offpath dev` sets this: its clock runs ahead when tests move time forward, and
# a function that reads "now" (a schedule tick) must see the emulator's time. On
# Lambda it is always 0.
_clock_offset_s: ContextVar[float] = ContextVar("offpath_clock_offset_s", default=0.0)


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


def now() -> datetime:
    """The current time as the platform sees it (UTC)."""
    return datetime.now(UTC) + timedelta(seconds=_clock_offset_s.get())


@contextmanager
def clock_offset(seconds: float) -> Iterator[None]:
    """Run the block with the emulator's clock offset (local only)."""
    token = _clock_offset_s.set(seconds)
    try:
        yield
    finally:
        _clock_offset_s.reset(token)
