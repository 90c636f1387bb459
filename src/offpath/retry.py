"""Exponential backoff with jitter, as the AWS Architecture Blog describes it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

JitterMode = Literal["full", "equal", "none"]

# SQS refuses a visibility timeout above 12 hours.
MAX_VISIBILITY_S = 12 * 3600


@dataclass(frozen=True)
class Backoff:
    """How long a failed job waits before its next attempt.

    The delay for attempt ``n`` (1-based: the attempt that just failed) is
    ``min(cap_s, base_s * 2 ** (n - 1))``, then jittered: ``full`` draws from
    ``[0, delay]``, ``equal`` from ``[delay / 2, delay]``.

    Example:
        >>> Backoff(base_s=2, cap_s=60, jitter="none").delay_s(3)
        8
    """

    base_s: float = 2.0
    cap_s: float = 900.0
    jitter: JitterMode = "full"

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("backoff needs 0 < base_s <= cap_s")
        if self.cap_s > MAX_VISIBILITY_S:
            raise ValueError(f"backoff cap_s cannot exceed {MAX_VISIBILITY_S} (SQS limit)")

    def delay_s(self, attempt: int, rand: Callable[[], float] = random.random) -> int:
        """Whole seconds to wait after ``attempt`` failed (SQS takes integers)."""
        exp: float = min(self.cap_s, self.base_s * 2.0 ** max(0, attempt - 1))
        if self.jitter == "full":
            exp = exp * rand()
        elif self.jitter == "equal":
            exp = exp / 2 + exp / 2 * rand()
        # Never 0: a zero visibility makes the message visible again at once,
        # which turns a struggling downstream into a hot retry loop.
        return max(1, round(exp))
