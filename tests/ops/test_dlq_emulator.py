"""The dead-letter queue on the emulator: list, show, redrive, purge, nothing lost or doubled."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from offpath.envelope import Envelope
from offpath.local.esm import EventSourceMapping, InvocationFailed
from offpath.ops.commands import progress_bar
from offpath.ops.errors import DeadLetterNotFound
from offpath.ops.messages import MAX_RECEIVE_COUNT, RedriveMethod
from offpath.producer import request
from offpath.store import JobStatus
from tests.ops.conftest import OPS_MAX_RECEIVE_COUNT, OpsStack
from tests.ops.tasks import ops_fails_until_fixed

pytestmark = pytest.mark.emulator


def _dead_by_worker(ops: OpsStack, *ns: int) -> list[str]:
    """Jobs the worker buries: one attempt, and the fix is not deployed yet."""
    jobs = ops.producer.enqueue_many([request(ops_fails_until_fixed, n) for n in ns])
    ops.emulator.drain()
    return [job.job_id for job in jobs]


def _dead_by_max_receive_count(ops: OpsStack, n: int) -> str:
    """A job whose worker keeps crashing: SQS itself moves it, with no offpath attributes."""
    job = ops.producer.enqueue(request(ops_fails_until_fixed, n))
    assert ops.emulator.provisioned is not None
    esm = EventSourceMapping(
        sqs=ops.target.clients.sqs,
        queue_url=ops.queue_url,
        queue_arn=ops.emulator.provisioned.topology.resolver.attrs[("JobsQueue", "Arn")],
        region="us-east-1",
    )

    def crash(event: dict[str, Any]) -> Any:
        raise InvocationFailed("worker process died")

    for _ in range(OPS_MAX_RECEIVE_COUNT):
        assert esm.run_once(crash).received == 1
        ops.emulator.advance(361)  # past JobsQueue's 360 s visibility timeout
    assert esm.run_once(crash).received == 0, "SQS moves it on the next receive"
    return job.job_id


def _malformed(ops: OpsStack) -> None:
    ops.target.clients.sqs.send_message(QueueUrl=ops.queue_url, MessageBody="not json")
    ops.emulator.drain()


def test_list_shows_both_kinds_of_dead_letter_and_leaves_every_message_visible(
    ops: OpsStack,
) -> None:
    # GIVEN two jobs buried by the worker, one moved by SQS, one malformed message
    first, second = _dead_by_worker(ops, 1, 2)
    crashed = _dead_by_max_receive_count(ops, 3)
    _malformed(ops)

    # WHEN the DLQ is listed
    listed = ops.letters().peek()

    # THEN each says what is known of it, and nothing stays hidden
    by_job = {m.job_id: m for m in listed}
    assert set(by_job) == {first, second, crashed, None}
    buried = by_job[first]
    assert (buried.task, buried.reason, buried.attempts) == (
        "ops_fails_until_fixed",
        "max_attempts",
        1,
    )
    assert (buried.error_type, buried.error_message) == ("RuntimeError", "not fixed yet")
    assert buried.first_attempt_at is not None and buried.failed_at is not None
    moved = by_job[crashed]
    assert (moved.reason, moved.task, moved.attempts) == (
        MAX_RECEIVE_COUNT,
        "ops_fails_until_fixed",
        0,
    )
    assert moved.failed_at is not None, "from the job record"
    assert by_job[None].reason == "malformed"
    counts = ops.counts(ops.dlq_url)
    assert (counts.visible, counts.in_flight) == (4, 0)
    assert len(ops.letters().peek(limit=2)) == 2


def test_show_finds_a_message_by_job_id_or_message_id(ops: OpsStack) -> None:
    [job_id] = _dead_by_worker(ops, 1)
    letters = ops.letters()

    [by_job] = letters.find(job_id)
    [by_message] = letters.find(by_job.message_id)

    assert by_message == by_job
    assert json.loads(by_job.body)["args"] == {"n": 1}
    with pytest.raises(DeadLetterNotFound, match="no-such-id"):
        letters.find("no-such-id")
    assert ops.counts(ops.dlq_url).visible == 1


def test_redriven_dead_jobs_run_again_once_and_succeed(ops: OpsStack) -> None:
    # GIVEN three buried jobs, one moved by SQS, one malformed message; then the fix
    first, second, third = _dead_by_worker(ops, 1, 2, 3)
    crashed = _dead_by_max_receive_count(ops, 4)
    _malformed(ops)
    ops.fix()
    letters = ops.letters()
    second_message = letters.find(second)[0].message_id

    # WHEN two are redriven by id (a job id and a message id)
    chosen = letters.redrive([first, second_message], to_url=ops.queue_url)

    # THEN their records wait again with a fresh retry budget, the rest stay put
    assert (chosen.moved, chosen.not_found) == (2, [])
    assert chosen.records == {first: "requeued", second: "requeued"}
    assert (ops.store.get(first).status, ops.store.get(first).attempts) == (JobStatus.QUEUED, 0)
    assert ops.counts(ops.dlq_url).visible == 3
    ops.emulator.drain()
    assert sorted(ops.runs()) == [1, 2]
    assert ops.store.get(first).status is JobStatus.SUCCEEDED

    # WHEN the rest are redriven
    rest = letters.redrive(to_url=ops.queue_url)
    ops.emulator.drain()

    # THEN every job ran exactly once; the malformed message is dead-lettered again
    assert rest.method is RedriveMethod.RECEIVE_SEND_DELETE  # moto has no move task
    assert rest.moved == 3
    assert rest.records == {third: "requeued", crashed: "queued"}  # SQS moved it mid-wait
    assert sorted(ops.runs()) == [1, 2, 3, 4]
    assert {ops.store.get(j).status for j in (first, second, third, crashed)} == {
        JobStatus.SUCCEEDED
    }
    assert ops.store.get(third).attempts == 1
    [again] = ops.letters().peek()
    assert (again.reason, again.job_id) == ("malformed", None)
    assert ops.counts(ops.queue_url).total == 0


def test_a_dead_letter_of_a_job_that_already_succeeded_does_not_run_twice(
    ops: OpsStack,
) -> None:
    ops.fix()
    job = ops.producer.enqueue(request(ops_fails_until_fixed, 7))
    ops.emulator.drain()
    stale = Envelope.new("ops_fails_until_fixed", {"n": 7}, job_id=job.job_id).to_body()
    ops.target.clients.sqs.send_message(QueueUrl=ops.dlq_url, MessageBody=stale)

    result = ops.letters().redrive([job.job_id], to_url=ops.queue_url)
    ops.emulator.drain()

    assert result.records == {job.job_id: "succeeded"}
    assert ops.runs() == [7], "the claim acknowledged the copy without running it"
    assert ops.counts(ops.queue_url).total == ops.counts(ops.dlq_url).total == 0


def test_redriving_unknown_ids_moves_nothing_and_says_so(ops: OpsStack) -> None:
    _dead_by_worker(ops, 1)

    result = ops.letters().redrive(["nope"], to_url=ops.queue_url)

    assert (result.moved, result.not_found) == (0, ["nope"])
    counts = ops.counts(ops.dlq_url)
    assert (counts.visible, counts.in_flight) == (1, 0)


def test_purge_empties_the_dlq_and_leaves_the_records_dead(ops: OpsStack) -> None:
    [job_id] = _dead_by_worker(ops, 1)
    ops.emulator.advance(61)  # the fixture purged it less than 60 s ago

    assert ops.letters().purge() == 1

    assert ops.counts(ops.dlq_url).total == 0
    assert ops.store.get(job_id).status is JobStatus.DEAD


def test_250_messages_redriven_under_a_progress_bar_none_lost_none_doubled(
    ops: OpsStack,
) -> None:
    # GIVEN 250 dead letters (sent ten at a time: moto slows down on deep queues)
    sqs = ops.target.clients.sqs
    envelopes = [Envelope.new("ops_noop", {"n": n}) for n in range(250)]
    for start in range(0, len(envelopes), 10):
        chunk = envelopes[start : start + 10]
        sqs.send_message_batch(
            QueueUrl=ops.dlq_url,
            Entries=[{"Id": str(i), "MessageBody": e.to_body()} for i, e in enumerate(chunk)],
        )
    ticks: list[tuple[int, int | None]] = []
    calls: Counter[str] = Counter()

    def count(model: Any, **kwargs: Any) -> None:
        calls[model.name] += 1

    # WHEN all are redriven with the CLI's progress bar
    sqs.meta.events.register("before-call.sqs", count, unique_id="ops-250")
    started = time.perf_counter()
    try:
        with progress_bar("redrive") as bar:

            def tick(done: int, total: int | None) -> None:
                ticks.append((done, total))
                bar(done, total)

            result = ops.letters().redrive(to_url=ops.queue_url, on_progress=tick)
    finally:
        sqs.meta.events.unregister("before-call.sqs", unique_id="ops-250")
    print(f"redrive of 250 messages: {time.perf_counter() - started:.2f} s")  # -rP shows it

    # THEN one tick to start and one per batch of ten; each message moved exactly once
    assert result.moved == 250
    assert ticks == [(0, 250), *((n, 250) for n in range(10, 251, 10))]
    assert ops.counts(ops.dlq_url).total == 0
    moved = [json.loads(m["Body"])["job_id"] for m in ops.receive_all(ops.queue_url)]
    assert sorted(moved) == sorted(e.job_id for e in envelopes)
    # Batched: ten messages a call, one receive to find the queue empty, and the
    # move-task probe (moto has none): no call per message, so no slowdown with depth.
    assert calls == {
        "GetQueueAttributes": 2,  # the DLQ's ARN for the probe, then its depth
        "ListMessageMoveTasks": 1,
        "ReceiveMessage": 26,
        "SendMessageBatch": 25,
        "DeleteMessageBatch": 25,
    }
