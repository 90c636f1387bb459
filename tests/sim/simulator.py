"""A seeded, deterministic simulation of the job lifecycle under faults chosen by the seed.

The real Producer, Worker, store and schedule-tick code run against in-process moto
(offpath.testing's stack on template.yaml). Each run draws, from its seed: a few jobs
(keyed or not; succeeding, flaky, or failing for good) and a schedule tick; then a
fault for every AWS call the code makes (none; throttled; a connection error before
the call took effect; a read timeout after it did; the process dying there), SQS
deliveries twice, late and out of order, Lambda invocations with little time left,
Lambda's asynchronous retries of a failed tick, and clock moves. Then faults stop,
the callers with a key retry until answered, the system is drained to quiet, and the
issue's invariants are checked (:func:`violations`).

Our own rather than hypothesis's state machines: one seed names one whole fault
schedule, replayable exactly (``python -m bench.simulate --seed S --runs 1``), and a
run is cheap enough for thousands in CI.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore
from botocore.exceptions import ClientError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from offpath.errors import OffpathError
from offpath.local.context import LocalContext
from offpath.local.events import sqs_event
from offpath.ops.messages import DeadMessage
from offpath.producer import IdempotencyConflict, JobRequest
from offpath.retry import Backoff
from offpath.schedules import ScheduledRun, enqueue_scheduled
from offpath.store import Job, JobStatus
from offpath.tasks import TaskRegistry
from offpath.testing import OffpathStack
from tests.faults import connection_error, read_timeout, throttled
from tests.sim.memo import memoised_parsing
from tests.support import TEMPLATE

MAX_ATTEMPTS = 3
BACKOFF = Backoff(base_s=10, cap_s=40, jitter="none")
VISIBILITY_S = 360  # JobsQueue's


class Crash(BaseException):
    """The process died here (a crash, a Lambda timeout): nothing after it runs."""


@dataclass
class World:
    """What the simulated callers and tasks saw; checked after the run."""

    rng: random.Random
    fault_rate: float = 0.0
    faults: int = 0
    starts: dict[str, list[float]] = field(default_factory=dict)  # job -> attempt starts
    failed_until: dict[str, float] = field(default_factory=dict)  # job -> backoff end
    effects: dict[str, int] = field(default_factory=dict)  # guarded effects per job
    plans: dict[str, int] = field(default_factory=dict)  # job -> failures before success
    acknowledged: set[str] = field(default_factory=set)
    bulk_failed: set[str] = field(default_factory=set)  # jobs of a refused enqueue_many
    short_lived: list[str] = field(default_factory=list)  # records expiring before due
    early: list[str] = field(default_factory=list)
    in_task: bool = False


def _registry(world: World) -> TaskRegistry:
    tasks = TaskRegistry()

    @tasks.task(max_attempts=MAX_ATTEMPTS, backoff=BACKOFF, timeout_s=5)
    def sim_job(key: str) -> str:
        now = _now_s()
        starts = world.starts.setdefault(key, [])
        if now < world.failed_until.get(key, 0):
            world.early.append(key)
        starts.append(now)
        if world.rng.random() < world.fault_rate / 2:
            raise Crash("the function timed out mid-task")
        if len(starts) <= world.plans.get(key, 0):
            raise ConnectionError("downstream said 503")
        _guarded_effect(key)
        return "ok"

    return tasks


_clock: Any = None
_guard: Any = None  # (dynamodb client, table): the guard's conditional write
_world: Any = None


def _guarded_effect(key: str) -> None:
    """The side effect, behind a guard: a conditional write (as Powertools' idempotency)."""
    client, table = _guard
    try:
        client.put_item(
            TableName=table,
            Item={"pk": {"S": f"effect#{key}"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return  # done by an earlier attempt
        raise
    _world.effects[key] = _world.effects.get(key, 0) + 1


def _now_s() -> float:
    assert _clock is not None
    return float(_clock.now().timestamp())


class FaultInjector:
    """At every call of the sim's clients, maybe a fault, before or after the call."""

    def __init__(self, world: World) -> None:
        self.world = world

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build", self._params)
        client.meta.events.register("before-call", self._before)
        client.meta.events.register("after-call", self._after)

    def _params(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._last: tuple[str, dict[str, Any]] = (model.name, params)

    def _note(self, model: Any) -> None:
        """A failed attempt's backoff, once its record says so (``next_attempt_at``)."""
        last: tuple[str, dict[str, Any]] = getattr(self, "_last", ("", {}))
        name, params = last
        values: dict[str, Any] = params.get("ExpressionAttributeValues", {})
        if name == "UpdateItem" and values.get(":status", {}).get("S") == "failed":
            job_id = params["Key"]["pk"]["S"].removeprefix("job#")
            self.world.failed_until[job_id] = float(values[":next"]["N"])

    def _draw(self) -> str | None:
        world = self.world
        if world.fault_rate == 0 or world.rng.random() >= world.fault_rate:
            return None
        world.faults += 1
        return world.rng.choice(["throttle", "connect", "timeout_after", "crash"])

    def _before(self, model: Any, **_: Any) -> None:
        kind = self._draw()
        if kind == "throttle":
            raise throttled(model.name)
        if kind == "connect":
            raise connection_error(model.name)
        if kind == "crash":
            raise Crash(f"died before {model.name}")
        if kind == "timeout_after":
            self._pending_after = True

    def _after(self, model: Any, **_: Any) -> None:
        self._note(model)
        if getattr(self, "_pending_after", False):
            self._pending_after = False
            if self.world.rng.random() < 0.5:
                raise read_timeout(model.name)
            raise Crash(f"died after {model.name}")


class Simulation:
    """One stack for many runs (moto started once; every run has ids of its own)."""

    def __init__(self) -> None:
        global _clock
        self._parsing = memoised_parsing()
        self._parsing.__enter__()
        quiet = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
        # The template's schedules fire as the clock passes them: thousands of runs, no
        # log lines or metrics from their functions either.
        self.stack = OffpathStack(TEMPLATE, environment=quiet, parameters={"LogLevel": "ERROR"})
        self.stack.start()
        _clock = self.stack.clock
        self.world = World(random.Random(0))
        global _guard, _world
        _guard = (self.stack.clients.dynamodb, self.stack.table_name)
        _world = self.world
        self.tasks = _registry(self.world)
        self.injector = FaultInjector(self.world)
        clients = self.stack.clients
        for client in (clients.sqs, clients.dynamodb, clients.scheduler):
            self.injector.attach(client)
        # moto checks no signature: signing every request is a fifth of its cost.
        self.stack.clients.sqs.meta.events.register("choose-signer", _unsigned)
        self.stack.clients.dynamodb.meta.events.register("choose-signer", _unsigned)
        self.stack.clients.scheduler.meta.events.register("choose-signer", _unsigned)
        backend = sqs_backends[DEFAULT_ACCOUNT_ID][self.stack.region]
        self._jobs_queue = backend.get_queue(self.stack.queue_url.rsplit("/", 1)[-1])
        self.worker = self.stack.worker(self.tasks)
        self.worker.rand = lambda: 1.0
        self.worker.logger.setLevel("CRITICAL")  # thousands of runs: no log lines
        self.faults = 0  # over all runs
        self._pending: list[tuple[JobRequest, str | None]] = []
        self._failed_ticks: list[datetime] = []
        self._last_due_s = 0.0  # the latest a one-off schedule of this run can be due

    def close(self) -> None:
        self.stack.stop()
        self._parsing.__exit__(None, None, None)

    # ---------------------------------------------------------------- one run
    def run(self, seed: int, fault_rate: float = 0.25) -> list[str]:
        rng = random.Random(seed)
        world = self.world
        world.__init__(rng)  # type: ignore[misc]
        self.stack.calls.clear()  # the stack's log of every call: unread here, and it grows
        self._last_due_s = 0.0
        run_id = uuid.UUID(int=rng.getrandbits(128)).hex[:12]
        jobs = [self._job(rng, run_id, n) for n in range(rng.randint(1, 3))]
        tick = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(10**6))
        world.fault_rate = fault_rate
        for _ in range(rng.randint(3, 8)):
            step = rng.random()
            if step < 0.35 and jobs:
                self._submit(jobs.pop(), retry=rng.random() < 0.5)
            elif step < 0.42:
                self._tick(run_id, tick)
            elif step < 0.5:
                self._bulk(run_id)
            elif step < 0.85:
                self._deliver(rng)
            else:
                self.stack.clock.advance(rng.choice([1, 5, 15, 60, 400]))
        for job in jobs:
            self._submit(job, retry=True)
        # Retries and dead letters happen after backoffs: faults go on for a while.
        for _ in range(rng.randint(0, 4)):
            self.stack.clock.advance(rng.choice([11, 21, 41, VISIBILITY_S + 1]))
            self._deliver(rng)
        world.fault_rate = 0.0
        self._quiet(run_id, tick)
        self.faults += world.faults
        return violations(self, run_id)

    def _job(self, rng: random.Random, run_id: str, n: int) -> tuple[JobRequest, str | None]:
        key = f"{run_id}-{n}"
        self.world.plans[key] = rng.choice([0, 0, 1, 2, MAX_ATTEMPTS])
        task = self.tasks.get("sim_job")
        idem = key if rng.random() < 0.7 else None
        delay_s = 2000 if rng.random() < 0.2 else 0  # beyond SQS: a one-off schedule
        request = JobRequest(task, {"key": key}, delay_s=delay_s, idempotency_key=idem, job_id=key)
        return request, idem

    def _check_outlives(self, job_id: str) -> None:
        """A scheduled job's record must outlive its schedule (read as it was made)."""
        saved, self.world.fault_rate = self.world.fault_rate, 0.0
        client, table = _guard
        item = client.get_item(TableName=table, Key={"pk": {"S": f"job#{job_id}"}})
        self.world.fault_rate = saved
        due = item.get("Item", {}).get("due_at")
        expires = item.get("Item", {}).get("expires_at")
        if due and expires and float(expires["N"]) < float(due["N"]) + self.stack.store.ttl_s - 1:
            self.world.short_lived.append(job_id)

    def _bulk(self, run_id: str) -> None:
        """An enqueue_many whose second job conflicts with its first (same id)."""
        task = self.tasks.get("sim_job")
        key = f"{run_id}-b{len(self.world.bulk_failed)}"
        jobs = [
            JobRequest(task, {"key": key}, job_id=key),
            JobRequest(task, {"key": f"{key}-other"}, job_id=key),
        ]
        saved, self.world.fault_rate = self.world.fault_rate, 0.0
        try:
            self.stack.producer.enqueue_many(jobs)
        except IdempotencyConflict:
            self.world.bulk_failed.add(key)
        finally:
            self.world.fault_rate = saved

    def _submit(self, job: tuple[JobRequest, str | None], *, retry: bool) -> None:
        request, key = job
        for _ in range(4 if (retry and key) else 1):
            if request.delay_s:  # any attempt may have made its schedule (a lost answer)
                self._last_due_s = max(self._last_due_s, _now_s() + request.delay_s)
            try:
                handle = self.stack.producer.enqueue(request)
            except (OffpathError, ClientError, Crash):
                continue
            self.world.acknowledged.add(handle.job_id)
            if handle.status is JobStatus.SCHEDULED:
                self._check_outlives(handle.job_id)
            return
        if key:  # a caller with a key retries until answered (after the faults)
            self._pending.append(job)

    def _tick(self, run_id: str, tick: datetime) -> None:
        """A schedule tick, invoked as Lambda invokes asynchronously: 3 tries."""
        from offpath.schedules import scheduled_job_id

        job_id = scheduled_job_id(run_id, tick)
        run = ScheduledRun(task="sim_job", args={"key": job_id}, schedule=run_id)
        run.scheduled_time = tick
        for _ in range(3):
            try:
                handle = enqueue_scheduled(run, self.tasks, self.stack.producer)
            except (OffpathError, ClientError, Crash):
                continue
            self.world.acknowledged.add(handle.job_id)
            return
        self._failed_ticks.append(tick)

    def _deliver(self, rng: random.Random) -> int:
        """One batch as the event source mapping hands it over, maybe disordered.

        Returns how many messages SQS handed over: fewer than a full batch (ten) says
        nothing else was visible, so a drain needs no depth check of its own.
        """
        sqs = self.stack.clients.sqs
        saved, self.world.fault_rate = self.world.fault_rate, 0.0
        got = sqs.receive_message(
            QueueUrl=self.stack.queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        self.world.fault_rate = saved
        received = len(got)
        if not got:
            return 0
        rng.shuffle(got)
        if rng.random() < 0.2:  # SQS delivers one twice
            sqs_copy = dict(got[0])
            sqs_copy["MessageId"] = str(uuid.UUID(int=rng.getrandbits(128)))
            got.append(sqs_copy)  # type: ignore[arg-type]
        left_s = rng.choice([60.0, 60.0, 60.0, 6.0, 3.0])
        context = LocalContext(function_name="WorkerFunction", timeout_s=left_s)
        event = sqs_event(got, self.stack.queue_arn, "us-east-1")
        try:
            response = self.worker.handle(event, context)
        except Crash:
            return received  # the invocation died: every message returns after its visibility
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        saved, self.world.fault_rate = self.world.fault_rate, 0.0
        for message in got:
            if message["MessageId"] not in failed:
                with contextlib.suppress(ClientError):
                    sqs.delete_message(
                        QueueUrl=self.stack.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
        self.world.fault_rate = saved
        return received

    def _quiet(self, run_id: str, tick: datetime) -> None:
        pending, self._pending = self._pending, []
        for job in pending:
            self._submit(job, retry=True)
        # A tick whose three tries failed waits in SchedulerFailureQueue: replayed.
        failed, self._failed_ticks = self._failed_ticks, []
        for _ in failed:
            self._tick(run_id, tick)
        # Drain what is visible, then let time pass: a round's step lets every message
        # in flight come back (its visibility ends) and every delay or backoff end; an
        # empty queue before the last one-off is due jumps to it. One depth read per
        # round: a batch short of ten says the visible part was drained (what the
        # worker made visible since shows in the depth, and waits for the next round).
        for _ in range(40):
            while self._deliver(random.Random(0)) == 10:
                pass
            now_s = _now_s()
            if self._queue_empty():
                if now_s > self._last_due_s:
                    return
                self.stack.advance(self._last_due_s - now_s + 1)  # one-offs fire
            else:
                self.stack.advance(VISIBILITY_S + 1)

    def _queue_empty(self) -> bool:
        """Nothing visible, in flight or delayed: read from moto's queue, not asked over
        GetQueueAttributes (the drain's own question, not one the code under test asks;
        the same three counts, without a request's cost)."""
        queue = self._jobs_queue
        return not (
            queue.approximate_number_of_messages
            or queue.approximate_number_of_messages_not_visible
            or queue.approximate_number_of_messages_delayed
        )


def _unsigned(**_: Any) -> Any:
    return botocore.UNSIGNED


@contextmanager
def simulation() -> Iterator[Simulation]:
    sim = Simulation()
    try:
        yield sim
    finally:
        sim.close()


def violations(sim: Simulation, run_id: str) -> list[str]:
    """The issue's invariants over one run (the records and the DLQ read once)."""
    jobs, effects = _read(sim, sorted(sim.world.acknowledged))
    dead = sim.stack.dead_letters()
    letters = {m.job_id: m for m in dead if m.job_id}
    found = _ends(jobs, letters) + _effects(sim, jobs, effects, letters) + _records(sim)
    if dead:
        # SQS allows one purge a minute; a quiet run may have passed less time than that.
        sim.stack.clock.advance(61)
        sim.stack.clients.sqs.purge_queue(QueueUrl=sim.stack.dlq_url)
    return found


def _read(sim: Simulation, job_ids: list[str]) -> tuple[dict[str, Job | None], set[str]]:
    """Each job's record (None: no record) and the jobs whose guarded effect happened,
    in one consistent BatchGetItem per 50 jobs."""
    client, table = _guard
    items: dict[str, Any] = {}
    for start in range(0, len(job_ids), 50):
        chunk = job_ids[start : start + 50]
        keys = [{"pk": {"S": f"{kind}#{j}"}} for j in chunk for kind in ("job", "effect")]
        request: Any = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            items.update({i["pk"]["S"]: i for i in response["Responses"].get(table, [])})
            request = response.get("UnprocessedKeys") or None
    jobs = {j: _job(items.get(f"job#{j}")) for j in job_ids}
    return jobs, {j for j in job_ids if f"effect#{j}" in items}


def _job(item: dict[str, Any] | None) -> Job | None:
    return None if item is None else Job.from_item(item)


def _records(sim: Simulation) -> list[str]:
    """No record waits for a message no one sent; a record outlives its schedule."""
    world, store = sim.world, sim.stack.store
    found: list[str] = []
    for job_id in sorted(world.bulk_failed):
        with contextlib.suppress(OffpathError):
            job = store.get(job_id)
            if job.status not in (JobStatus.SUCCEEDED, JobStatus.DEAD):
                found.append(f"{job_id}: left {job.status} by a refused enqueue_many")
    found += [f"{j}: its record expires before its schedule fires" for j in world.short_lived]
    return found


def _ends(jobs: dict[str, Job | None], letters: dict[str, DeadMessage]) -> list[str]:
    """Every acknowledged job ends succeeded or dead, dead ones in the DLQ by rule."""
    found: list[str] = []
    for job_id, job in jobs.items():
        if job is None:
            found.append(f"{job_id}: acknowledged, but no record")
            continue
        if job.status not in (JobStatus.SUCCEEDED, JobStatus.DEAD):
            found.append(f"{job_id}: ends {job.status} (attempts {job.attempts})")
        if job.attempts > MAX_ATTEMPTS:
            found.append(f"{job_id}: ran {job.attempts} attempts of {MAX_ATTEMPTS}")
        if job.status is JobStatus.DEAD:
            letter = letters.get(job_id)
            if letter is None:
                found.append(f"{job_id}: dead, not in the DLQ")
            elif not letter.reason:
                found.append(f"{job_id}: dead-lettered without a reason")
            elif letter.reason == "max_attempts" and job.attempts < MAX_ATTEMPTS:
                found.append(f"{job_id}: dead-lettered after {job.attempts} attempts")
    return found


def _effects(
    sim: Simulation,
    jobs: dict[str, Job | None],
    effects: set[str],
    letters: dict[str, DeadMessage],
) -> list[str]:
    """Guarded effects once per succeeded job; no attempt inside a backoff."""
    found = [f"{key}: an attempt started inside its backoff" for key in sim.world.early]
    for job_id, job in jobs.items():
        if job is None or job.status is not JobStatus.SUCCEEDED:
            continue
        # The guard's conditional write makes the effect at most once; the item
        # says it happened (its answer may have been lost on the way back).
        if job_id not in effects:
            found.append(f"{job_id}: succeeded, its guarded effect never happened")
        if job_id in letters:
            found.append(f"{job_id}: succeeded, and in the DLQ")
    return found
