"""The soak's plan: which job gets which fault, decided from a seed.

Counts are exact (a share of the jobs, at least one of each fault) and places are
random, so a run's expected figures are known before it starts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from offpath.envelope import Envelope
from offpath.producer import JobRequest
from tests.soak.tasks import soak_always_flaky, soak_effect, soak_poison

FAULTS = ("transient", "crash_before", "crash_after", "crash_window", "hang")
POISON_KINDS = {
    # kind -> the dead-letter reason it must carry
    "malformed": "malformed",
    "unknown_task": "unknown_task",
    "invalid_arguments": "invalid_arguments",
    "permanent_error": "permanent_error",
    "max_attempts": "max_attempts",
}


@dataclass(frozen=True)
class Rates:
    """How much of each fault: a share of the jobs (throttle: of the worker's requests)."""

    transient: float = 0.10  # the first one or two attempts fail
    # Each of these kills a worker process (and so costs a cold start): 1.5% of jobs.
    crash_before: float = 0.005
    crash_after: float = 0.005
    crash_window: float = 0.0025
    hang: float = 0.0025  # killed at the function's Timeout
    duplicate: float = 0.05  # the same envelope sent twice
    poison: float = 0.01
    # Of the worker's requests. Its SQS requests are few (visibility changes, dead
    # letters: the event source mapping receives and deletes), hence the higher rate.
    throttle_sqs: float = 0.2
    throttle_dynamodb: float = 0.01


@dataclass(frozen=True)
class JobPlan:
    job_id: str
    fault: str = ""  # one of FAULTS, or "" for none
    fail_first: int = 0
    duplicate: bool = False

    def request(self) -> JobRequest:
        args = soak_effect.bind(
            key=self.job_id,
            fail_first=self.fail_first,
            crash=self.fault.removeprefix("crash_") if self.fault.startswith("crash_") else "",
            hang=self.fault == "hang",
        )
        return JobRequest(task=soak_effect, args=args, job_id=self.job_id)


@dataclass(frozen=True)
class PoisonPlan:
    key: str
    kind: str

    @property
    def reason(self) -> str:
        return POISON_KINDS[self.kind]

    def request(self) -> JobRequest | None:
        """Poison the producer can send (a job that fails); None for a raw body."""
        if self.kind == "permanent_error":
            return JobRequest(task=soak_poison, args={"key": self.key}, job_id=self.key)
        if self.kind == "max_attempts":
            return JobRequest(task=soak_always_flaky, args={"key": self.key}, job_id=self.key)
        return None

    def body(self) -> str:
        """A body no producer would send."""
        if self.kind == "malformed":
            return "{not json " + self.key
        task = "soak_no_such_task"
        args: dict[str, Any] = {"key": self.key}
        if self.kind == "invalid_arguments":
            task, args = "soak_effect", {"key": ["a", "list", "for", "a", "str"]}
        return Envelope.new(task, args, job_id=self.key).to_body()


@dataclass(frozen=True)
class Plan:
    seed: int
    rates: Rates
    jobs: list[JobPlan]
    poison: list[PoisonPlan]

    def planned(self, fault: str) -> int:
        return sum(1 for job in self.jobs if job.fault == fault)


def plan(jobs: int, seed: int = 1, rates: Rates | None = None) -> Plan:
    """Which job gets which fault: exact counts (at least one of each), random places."""
    rates = rates or Rates()
    rng = random.Random(seed)
    order = list(range(jobs))
    rng.shuffle(order)
    faults: dict[int, str] = {}
    start = 0
    for fault in FAULTS:
        count = max(1, round(getattr(rates, fault) * jobs))
        for index in order[start : start + count]:
            faults[index] = fault
        start += count
    duplicates = set(rng.sample(range(jobs), max(1, round(rates.duplicate * jobs))))
    planned = [
        JobPlan(
            job_id=f"s{i:05d}",
            fault=faults.get(i, ""),
            fail_first=rng.choice([1, 2]) if faults.get(i) == "transient" else 0,
            duplicate=i in duplicates,
        )
        for i in range(jobs)
    ]
    kinds = list(POISON_KINDS)
    poison_count = max(len(kinds), round(rates.poison * jobs))
    poison = [PoisonPlan(f"p{n:05d}", kinds[n % len(kinds)]) for n in range(poison_count)]
    return Plan(seed, rates, planned, poison)
