"""Does every task fit the pool that runs it? Checked before anything runs.

A pool's worker function has a ``Timeout``; its queue a visibility timeout; its event
source a batch size. :func:`misfits` checks, for every task and every pool:

- the task's ``timeout_s`` plus the worker's margin (the time it keeps to record the
  outcome of its last record) fits its pool function's ``Timeout``;
- the ``Timeout`` is at most Lambda's 900 s;
- the queue's visibility is at least 6 times the function's ``Timeout`` (AWS's advice
  for Lambda SQS consumers: a throttled invocation's batch must not come back while it
  is still alive);
- a batch's worst case (batch size times the longest task timeout) fits the
  ``Timeout``, or else the worker's handing back covers it: a record that cannot finish
  in the time left goes back to the queue at once, and one invocation always runs at
  least one record. :func:`hand_backs` says how many times, at worst, a record of the
  pool is handed back before it runs (each a receive of the message).

``offpath dev`` runs the check at start, the worker at its function's init when its
timeout is known, and the tests over ``template.yaml`` (:func:`pool_limits`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from offpath.errors import ConfigurationError
from offpath.location import DEFAULT_POOL
from offpath.tasks import Task

if TYPE_CHECKING:
    from offpath.location.layout import Layout

LAMBDA_MAX_TIMEOUT_S = 900
VISIBILITY_FACTOR = 6
WORKER_MARGIN_S = 2.0  # offpath.worker.SAFETY_MARGIN_MS, in seconds


class Misfit(ConfigurationError):
    """A task cannot fit its pool (the message names the task, the pool and the numbers)."""


@dataclass(frozen=True)
class PoolLimits:
    """What bounds one pool's jobs.

    Attributes:
        pool: the pool's name.
        function: its worker function (logical id).
        timeout_s: the function's ``Timeout``.
        visibility_s: its queue's ``VisibilityTimeout`` (None: unknown, not checked).
        batch_size: its event source's ``BatchSize``.
    """

    pool: str
    function: str
    timeout_s: float
    visibility_s: float | None = None
    batch_size: int = 1


def misfits(
    tasks: Iterable[Task[Any, Any]],
    pools: Mapping[str, PoolLimits],
    *,
    default_pool: str = DEFAULT_POOL,
    margin_s: float = WORKER_MARGIN_S,
) -> list[str]:
    """Every problem, one sentence each (empty when everything fits)."""
    problems: list[str] = []
    for each in pools.values():
        problems += _pool_problems(each)
    for task in tasks:
        name = task.options.pool or default_pool
        limits = pools.get(name)
        if limits is None:
            known = ", ".join(sorted(pools)) or "none"
            problems.append(
                f"task {task.name} runs in pool {name!r}, which the template does not "
                f"declare (pools: {known})"
            )
            continue
        needed = task.options.timeout_s + margin_s
        if needed > limits.timeout_s:
            problems.append(
                f"task {task.name} (timeout_s={task.options.timeout_s:g}) does not fit pool "
                f"{name!r}: with the worker's {margin_s:g} s margin it needs {needed:g} s, "
                f"and {limits.function}'s Timeout is {limits.timeout_s:g} s"
            )
    return problems


def check(
    tasks: Iterable[Task[Any, Any]],
    pools: Mapping[str, PoolLimits],
    *,
    default_pool: str = DEFAULT_POOL,
    margin_s: float = WORKER_MARGIN_S,
) -> None:
    """Raise :class:`Misfit` naming every problem :func:`misfits` finds."""
    problems = misfits(tasks, pools, default_pool=default_pool, margin_s=margin_s)
    if problems:
        raise Misfit("tasks and pools do not fit: " + "; ".join(problems))


def hand_backs(
    tasks: Iterable[Task[Any, Any]],
    limits: PoolLimits,
    *,
    default_pool: str = DEFAULT_POOL,
    margin_s: float = WORKER_MARGIN_S,
) -> int:
    """At worst, how many times a record of this pool is handed back before it runs.

    Every record of a batch taking the pool's longest task timeout: an invocation
    runs as many as fit (one at least), and hands the others back.
    """
    timeouts = [
        t.options.timeout_s for t in tasks if (t.options.pool or default_pool) == limits.pool
    ]
    if not timeouts or limits.batch_size <= 1:
        return 0
    per_invocation = max(1, math.floor((limits.timeout_s - margin_s) / max(timeouts)))
    return max(0, math.ceil(limits.batch_size / per_invocation) - 1)


def _pool_problems(limits: PoolLimits) -> list[str]:
    problems = []
    if limits.timeout_s > LAMBDA_MAX_TIMEOUT_S:
        problems.append(
            f"pool {limits.pool!r}: {limits.function}'s Timeout {limits.timeout_s:g} s is "
            f"over Lambda's {LAMBDA_MAX_TIMEOUT_S} s"
        )
    wanted = VISIBILITY_FACTOR * limits.timeout_s
    if limits.visibility_s is not None and limits.visibility_s < wanted:
        problems.append(
            f"pool {limits.pool!r}: its queue's VisibilityTimeout {limits.visibility_s:g} s is "
            f"under {VISIBILITY_FACTOR} x {limits.function}'s Timeout ({wanted:g} s)"
        )
    return problems


def pool_limits(layout: Layout, topology: Any) -> dict[str, PoolLimits]:
    """Each pool's limits, from a template read by ``offpath.local.topology`` (its
    parameters resolved): the worker's Timeout, the queue's visibility, the batch size.
    """
    found: dict[str, PoolLimits] = {}
    for name, pool in layout.pools.items():
        function = topology.functions[pool.function]
        batch = next((e.batch_size for e in function.sqs_events if e.queue == pool.queue), 10)
        queue = topology.queues.get(pool.queue)
        visibility = queue.attributes.get("VisibilityTimeout", "30") if queue else None
        found[name] = PoolLimits(
            pool=name,
            function=pool.function,
            timeout_s=float(function.timeout_s),
            visibility_s=float(visibility) if visibility is not None else None,
            batch_size=int(batch),
        )
    return found
