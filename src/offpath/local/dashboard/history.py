"""The queues' recent past: a sample every few seconds, kept in a ring buffer.

The chart needs history the queues do not keep, so a thread reads each queue's
counts (one GetQueueAttributes each, via :func:`offpath.ops.status.queue_counts`)
every ``every_s`` seconds, whether or not a page is open.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError

from offpath.errors import OffpathError
from offpath.ops.status import QueueCounts

SAMPLE_EVERY_S = 2.0
WINDOW_S = 10 * 60.0  # what the chart spans at most


@dataclass(frozen=True)
class Sample:
    """One queue's counts at one moment (``at``: Unix seconds, wall clock)."""

    at: float
    counts: QueueCounts


class QueueHistory:
    """The last ``capacity`` samples of each queue, oldest first. Thread-safe."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._samples: dict[str, deque[Sample]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, sample: Sample) -> None:
        with self._lock:
            self._samples.setdefault(name, deque(maxlen=self.capacity)).append(sample)

    def series(self, name: str) -> list[Sample]:
        with self._lock:
            return list(self._samples.get(name, ()))

    def latest(self, name: str) -> Sample | None:
        with self._lock:
            samples = self._samples.get(name)
            return samples[-1] if samples else None


ReadCounts = Callable[[], Mapping[str, QueueCounts]]


class Sampler:
    """Reads every queue's counts into a :class:`QueueHistory` every ``every_s`` seconds.

    Example:
        >>> sampler = Sampler(lambda: {"jobs": counts}, every_s=2)  # doctest: +SKIP
        >>> sampler.start(); sampler.history.latest("jobs")  # doctest: +SKIP
    """

    def __init__(
        self,
        read: ReadCounts,
        *,
        every_s: float = SAMPLE_EVERY_S,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.read = read
        self.every_s = every_s
        self.clock = clock
        self.history = QueueHistory(capacity=max(2, int(window_s / every_s) + 1))
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        """Take one sample of every queue now; a failure is kept, not raised."""
        try:
            counts = self.read()
        except (OffpathError, BotoCoreError) as exc:
            # The emulator may be stopping, or a backend hiccuped: the page says so
            # and the next tick tries again.
            self.last_error = str(exc)
            return
        at = self.clock()
        for name, queue in counts.items():
            self.history.add(name, Sample(at, queue))
        self.last_error = None

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="dashboard-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.every_s + 5)

    def wake(self) -> None:
        """Sample at once (after an action), then keep the usual pace."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._wake.wait(self.every_s)
            self._wake.clear()
