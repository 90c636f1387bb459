"""``GET /jobs/{id}?wait_s=N``: answer when the status changes, or after N seconds.

DynamoDB has no change notification a Lambda can wait on cheaply, so this reads the
record again on a widening interval (0.25 s, doubling to 2 s): a wait of N seconds
costs at most about ``N / 2 + 4`` strongly consistent reads, against a client's loop
of one request (and one read) per poll. The wait is bounded by :data:`MAX_WAIT_S`
and by the invocation's own time left (the caller's budget).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from offpath.store import FINAL_STATUSES, Job, JobStore

# An API function on Lambda behind an HTTP API has at most 29 s (the HTTP API gives up
# after 30): leave it room to answer.
MAX_WAIT_S = 20
FIRST_INTERVAL_S = 0.25
MAX_INTERVAL_S = 2.0


def wait_for_change(
    store: JobStore,
    job: Job,
    budget_s: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Job:
    """The job once its status differs from ``job``'s, or as it is when time is up.

    A final job is answered at once: its status will not change.

    Raises:
        JobNotFound: the record disappeared meanwhile.
    """
    if job.status in FINAL_STATUSES:
        return job
    deadline = clock() + budget_s
    interval = FIRST_INTERVAL_S
    current = job
    while current.status == job.status:
        left = deadline - clock()
        if left <= 0:
            break
        sleep(min(interval, left))
        interval = min(MAX_INTERVAL_S, interval * 2)
        current = store.get(job.job_id)
    return current
