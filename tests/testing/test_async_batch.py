"""Async jobs of one batch run together on one event loop, each with its own outcome."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from functions.shared import services
from functions.shared.tasks import check_shipment

from offpath.errors import PermanentError
from offpath.producer import JobRequest
from offpath.store import JobStatus
from offpath.tasks import TaskRegistry
from offpath.testing import OffpathStack


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    """How many of these (start, end) spans overlapped at most."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_ten_async_jobs_waiting_a_second_each_finish_in_one_invocation(
    offpath_stack: OffpathStack,
) -> None:
    jobs = offpath_stack.submit(
        [JobRequest(check_shipment, {"order_id": f"o{n}", "wait_s": 1.0}) for n in range(10)]
    )
    assert isinstance(jobs, list)

    offpath_stack.drain()

    assert all(offpath_stack.job(j.job_id).status is JobStatus.SUCCEEDED for j in jobs)
    [invocation] = offpath_stack.functions["WorkerFunction"].invocations
    assert invocation.error is None
    # What the jobs recorded: all ten waited at the same time (not a timing assert).
    spans = [(r["started"], r["finished"]) for r in services.read("shipment")]
    assert len(spans) == 10 and _most_at_once(spans) == 10


def test_a_batch_runs_its_async_jobs_together_up_to_the_limit_each_with_its_own_outcome(
    offpath_stack: OffpathStack,
) -> None:
    tasks = TaskRegistry()
    peak = {"now": 0, "most": 0}

    @tasks.task(max_attempts=3)
    async def wait(n: int) -> int:
        peak["now"] += 1
        peak["most"] = max(peak["most"], peak["now"])
        await asyncio.sleep(0.2)
        peak["now"] -= 1
        return n

    @tasks.task(max_attempts=3)
    async def flaky() -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("the partner answered 503")

    @tasks.task(max_attempts=1)
    async def refused() -> None:
        raise PermanentError("not for us")

    @tasks.task(max_attempts=3, timeout_s=0.3)
    async def stuck() -> None:
        await asyncio.sleep(30)

    @tasks.task(max_attempts=3)
    def plain(n: int) -> int:
        time.sleep(0.01)
        return n

    requests: list[JobRequest] = [JobRequest(wait, {"n": n}, job_id=f"w{n}") for n in range(5)]
    requests += [
        JobRequest(flaky, {}, job_id="flaky"),
        JobRequest(refused, {}, job_id="refused"),
        JobRequest(stuck, {}, job_id="stuck"),
        JobRequest(plain, {"n": 1}, job_id="plain"),
    ]
    offpath_stack.submit(requests)
    worker = offpath_stack.worker(tasks, async_concurrency=3)

    [batch] = offpath_stack.drain(worker)

    assert batch.received == 9
    assert worker.peak_concurrency == 3 and peak["most"] == 3, "the pool's limit"
    status: dict[str, Any] = {
        j: offpath_stack.job(j) for j in ["w0", "w4", "flaky", "refused", "stuck", "plain"]
    }
    assert {j: s.status for j, s in status.items()} == {
        "w0": JobStatus.SUCCEEDED,
        "w4": JobStatus.SUCCEEDED,
        "flaky": JobStatus.FAILED,  # retried after its backoff, alone
        "refused": JobStatus.DEAD,
        "stuck": JobStatus.FAILED,  # its own timeout, not its neighbours'
        "plain": JobStatus.SUCCEEDED,  # sync: one at a time, after them
    }
    assert status["w4"].result == 4
    assert status["stuck"].last_error is not None
    assert status["stuck"].last_error.type == "TaskTimeout"
    [letter] = offpath_stack.dead_letters()
    assert (letter.job_id, letter.reason) == ("refused", "permanent_error")
