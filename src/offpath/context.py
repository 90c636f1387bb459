"""The job's side of itself: what a task sees when it declares a :class:`JobContext`.

A task asks for it with one typed parameter (any name); the worker fills it in and
the parameter is not one of the job's arguments (callers never pass it, the OpenAPI
body does not list it):

Example:
    >>> @task(timeout_s=300)  # doctest: +SKIP
    ... def export(user_id: int, ctx: JobContext) -> str:
    ...     for i, chunk in enumerate(chunks(user_id)):
    ...         if ctx.cancelled():
    ...             return "stopped"  # the job ends `cancelled`
    ...         write(chunk)
    ...         ctx.progress((i + 1) / len(chunks), f"chunk {i + 1}")
    ...     return "done"

What each call costs, so a chatty task stays cheap:

- ``progress()`` writes the record at most once per :data:`PROGRESS_INTERVAL_S` and at
  most :data:`MAX_PROGRESS_WRITES` times per attempt (so at most
  ``MAX_PROGRESS_WRITES * max_attempts`` per job); calls in between only keep the
  latest value, which the next allowed write carries.
- ``cancelled()`` reads the record at most once per :data:`CANCEL_CHECK_INTERVAL_S`
  (a progress write answers it too, for free); other calls answer from memory.

Fire-and-forget jobs keep no record: their context has the job id, attempt 1 and the
correlation id, ``progress()`` is a no-op that returns False, and ``cancelled()`` is
always False (nothing can ask to cancel a job no one can look up). A no-op rather
than an error, so a task can run either way unchanged.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from offpath.errors import OffpathError

PROGRESS_INTERVAL_S = 2.0
MAX_PROGRESS_WRITES = 20
CANCEL_CHECK_INTERVAL_S = 1.0
MAX_NOTE_CHARS = 200


class JobCancelled(OffpathError):
    """Raised by :meth:`JobContext.raise_if_cancelled`; the job then ends ``cancelled``."""


class ProgressStore(Protocol):
    """The two record operations a context needs (the job store has both)."""

    def record_progress(self, job_id: str, attempt: int, fraction: float, note: str) -> bool | None:
        """Write progress for the attempt holding the claim.

        Returns:
            Whether a cancel was requested (None: the attempt no longer holds the job).
        """
        ...

    def cancel_requested(self, job_id: str) -> bool: ...


@dataclass(frozen=True)
class ProgressWrite:
    """One progress value the worker may write (for tests and the dashboard)."""

    fraction: float
    note: str


@dataclass
class JobContext:
    """One attempt of one job, as its task sees it.

    Attributes:
        job_id: the job's id (the one the 202 gave).
        task: the task's name.
        attempt: 1 for the first attempt, 2 for the first retry, ...
        correlation_id: the id the enqueueing request carried (logs and traces).
        durable: False for fire-and-forget jobs (no record: see the module's notes).
    """

    job_id: str
    task: str
    attempt: int
    correlation_id: str
    durable: bool
    deadline: float  # on `clock`'s scale (time.monotonic by default)
    store: ProgressStore | None = None
    clock: Callable[[], float] = time.monotonic
    progress_writes: int = 0
    _last_write_at: float = field(default=-math.inf, repr=False)
    _pending: ProgressWrite | None = field(default=None, repr=False)
    _last_check_at: float = field(default=-math.inf, repr=False)
    _cancel_seen: bool = field(default=False, repr=False)

    @classmethod
    def detached(cls, task: str, timeout_s: float) -> JobContext:
        """A context with no record, for a task called outside a worker."""
        job_id = f"local-{uuid.uuid4().hex}"
        return cls(job_id, task, 1, job_id, durable=False, deadline=time.monotonic() + timeout_s)

    def time_left_s(self) -> float:
        """Seconds left before this attempt times out (the task's or the Lambda's)."""
        return max(0.0, self.deadline - self.clock())

    def progress(self, fraction: float, note: str = "") -> bool:
        """Record how far the job is (0.0 to 1.0) with a short note.

        Rate-limited (see the module's notes); a refused write is kept and sent with
        the next allowed one.

        Returns:
            True if this call wrote the record.

        Raises:
            ValueError: ``fraction`` is not a number within 0..1.
        """
        if isinstance(fraction, bool) or not 0.0 <= float(fraction) <= 1.0:
            raise ValueError("progress fraction must be within 0.0..1.0")
        if self.store is None or not self.durable:
            return False
        self._pending = ProgressWrite(float(fraction), str(note)[:MAX_NOTE_CHARS])
        now = self.clock()
        if self.progress_writes >= MAX_PROGRESS_WRITES:
            return False
        if now - self._last_write_at < PROGRESS_INTERVAL_S:
            return False
        pending, self._pending = self._pending, None
        self._last_write_at = now
        self.progress_writes += 1
        requested = self.store.record_progress(
            self.job_id, self.attempt, pending.fraction, pending.note
        )
        self._last_check_at = now
        # None: this attempt lost the job (its lease expired and another took it);
        # stopping is the right answer for it as well.
        self._cancel_seen = self._cancel_seen or requested is not False
        return True

    def cancelled(self) -> bool:
        """Whether someone asked to cancel this job (``DELETE /jobs/{id}``).

        A task that sees True should stop; whatever it then returns or raises, the job
        ends ``cancelled``.
        """
        if self._cancel_seen or self.store is None or not self.durable:
            return self._cancel_seen
        now = self.clock()
        if now - self._last_check_at >= CANCEL_CHECK_INTERVAL_S:
            self._last_check_at = now
            self._cancel_seen = self.store.cancel_requested(self.job_id)
        return self._cancel_seen

    def raise_if_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if :meth:`cancelled` is True."""
        if self.cancelled():
            raise JobCancelled(f"job {self.job_id} was cancelled")

    @property
    def cancel_seen(self) -> bool:
        """Whether the task was told, by any call, that the job is cancelled."""
        return self._cancel_seen
