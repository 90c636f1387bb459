"""The emulator's clock: real time plus an offset that tests move forward.

moto stamps visibility timeouts, delays and receive times with
``moto.core.utils.utcnow``; pointing that at this clock makes a backoff of an hour
pass in a line of test code, with SQS's own rules deciding what is visible.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class EmulatorClock:
    """Wall-clock time shifted by ``offset_s``; shared by moto, the ESM and schedules."""

    def __init__(self) -> None:
        self._offset_s = 0.0
        self._lock = threading.Lock()

    @property
    def offset_s(self) -> float:
        return self._offset_s

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset_s)

    def advance(self, seconds: float) -> datetime:
        """Move time forward (never back: SQS timestamps must not run backwards)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset_s += seconds
        return self.now()

    def install_in_moto(self) -> Callable[[], None]:
        """Make moto's backends (in this process) read this clock; returns the undo."""
        import moto.core.utils as moto_utils

        original = moto_utils.utcnow

        def utcnow() -> datetime:
            return self.now().replace(tzinfo=None)

        moto_utils.utcnow = utcnow

        def restore() -> None:
            moto_utils.utcnow = original

        return restore
