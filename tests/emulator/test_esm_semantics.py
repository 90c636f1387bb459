"""The local SQS event source mapping behaves as Lambda's does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from offpath.local.emulator import Emulator
from offpath.local.template import TemplateError
from tests.emulator.conftest import StartEmulator, read_log

pytestmark = pytest.mark.emulator


def _send(emulator: Emulator, *bodies: str, queue: str = "Inbox") -> None:
    url = emulator.provisioned.queue_url(queue)  # type: ignore[union-attr]
    for body in bodies:
        emulator.clients.sqs.send_message(QueueUrl=url, MessageBody=body)  # type: ignore[union-attr]


def _depth(emulator: Emulator, queue: str) -> int:
    attrs = emulator.clients.sqs.get_queue_attributes(  # type: ignore[union-attr]
        QueueUrl=emulator.provisioned.queue_url(queue),  # type: ignore[union-attr]
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_batches_are_cut_at_batch_size(start_emulator: StartEmulator, consumer_log: Path) -> None:
    emulator = start_emulator()
    _send(emulator, *["ok"] * 12)

    results = emulator.drain()

    assert [r.received for r in results] == [5, 5, 2]
    assert sum(len(line["bodies"]) for line in read_log(consumer_log)) == 12
    assert _depth(emulator, "Inbox") == 0


def test_the_batching_window_gathers_messages_that_arrive_within_it(
    start_emulator: StartEmulator, consumer_log: Path
) -> None:
    emulator = start_emulator(parameters={"WindowSeconds": 2}, background=True)
    for _ in range(3):
        _send(emulator, "ok")
        time.sleep(0.3)

    _wait_for(lambda: sum(len(x["bodies"]) for x in read_log(consumer_log)) == 3)

    assert [len(x["bodies"]) for x in read_log(consumer_log)] == [3]


def test_maximum_concurrency_bounds_concurrent_invocations(
    start_emulator: StartEmulator, consumer_log: Path
) -> None:
    emulator = start_emulator(parameters={"BatchSize": 1}, background=True)
    _send(emulator, *["slow"] * 8)

    _wait_for(lambda: len(read_log(consumer_log)) == 8, timeout_s=30)

    spans = [(x["start"], x["end"]) for x in read_log(consumer_log)]
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap == 2, "MaximumConcurrency is 2: two at once, never three"
    assert emulator.pools["Consumer"].peak_busy == 2


def test_partial_batch_failures_delete_only_the_successes(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator()
    _send(emulator, "ok", "fail", "ok")

    [result] = emulator.drain()

    assert (result.received, result.deleted, result.failed) == (3, 2, 1)
    assert _depth(emulator, "Inbox") == 1
    emulator.advance(3.5)  # the failed one is back after the visibility timeout
    [again] = emulator.drain()
    assert again.received == 1


def test_a_raised_error_returns_the_whole_batch(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    _send(emulator, "ok", "raise")

    [result] = emulator.drain()

    assert (result.received, result.deleted) == (2, 0)
    assert result.error is not None and "the function raised" in result.error
    assert _depth(emulator, "Inbox") == 2


@pytest.mark.parametrize("body", ["crash-once:a", "hang-once:b"])
def test_a_crashed_or_timed_out_invocation_loses_nothing(
    start_emulator: StartEmulator, consumer_log: Path, body: str
) -> None:
    emulator = start_emulator()
    _send(emulator, "ok", body, "ok")

    [first] = emulator.drain()
    assert (first.received, first.deleted) == (3, 0)
    assert first.error is not None
    assert ("exit status 3" if "crash" in body else "Task timed out after 2.00") in first.error
    assert emulator.drain() == [], "nothing visible before the visibility timeout"

    emulator.advance(3.5)
    [second] = emulator.drain()

    assert (second.received, second.deleted) == (3, 3)
    assert sorted(read_log(consumer_log)[-1]["bodies"]) == sorted(["ok", body, "ok"])
    assert emulator.invocations[-1].cold, "the dead environment was replaced"
    assert _depth(emulator, "Inbox") == 0


def test_max_receive_count_moves_a_poison_message_to_the_dlq(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator()
    _send(emulator, "raise")

    for _ in range(3):  # maxReceiveCount: 3
        assert [r.received for r in emulator.drain()] == [1]
        emulator.advance(3.5)

    assert emulator.drain() == []
    assert _depth(emulator, "Inbox") == 0
    assert _depth(emulator, "InboxDLQ") == 1


def test_module_state_survives_between_warm_invocations(
    start_emulator: StartEmulator, consumer_log: Path
) -> None:
    emulator = start_emulator()
    _send(emulator, "ok")
    emulator.drain()
    _send(emulator, "ok")
    emulator.drain()

    assert [i.cold for i in emulator.invocations] == [True, False]
    first, second = read_log(consumer_log)
    assert first["pid"] == second["pid"], "the same execution environment, warm"


def _wait_for(condition: object, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_null_batch_item_failures_list_is_a_complete_success(
    start_emulator: StartEmulator,
) -> None:
    """AWS: a null ``batchItemFailures`` means every record succeeded (it used to fail
    the whole batch here, so the messages came back forever)."""
    emulator = start_emulator()
    _send(emulator, "ok", "null-failures")

    [result] = emulator.drain()

    assert (result.received, result.deleted, result.failed) == (2, 2, 0)
    assert result.error is None
    assert _depth(emulator, "Inbox") == 0


def test_a_batch_stays_under_lambdas_six_mb_payload_limit(
    start_emulator: StartEmulator, consumer_log: Path
) -> None:
    emulator = start_emulator(parameters={"BatchSize": 50, "WindowSeconds": 1})
    body = "x" * 250_000  # under SQS's 256 KiB default message size; 30 make 7.5 MB
    _send(emulator, *[body] * 30)

    results = emulator.drain()

    sizes = [line["bytes"] for line in read_log(consumer_log)]
    assert all(size <= 6 * 1024 * 1024 for size in sizes), sizes
    assert len(results) == 2 and results[0].received == 25, [r.received for r in results]
    assert sum(r.deleted for r in results) == 30
    assert _depth(emulator, "Inbox") == 0


def test_a_batch_size_above_ten_without_a_window_is_refused(
    start_emulator: StartEmulator,
) -> None:
    with pytest.raises(TemplateError, match="BatchSize 20 needs MaximumBatchingWindowInSeconds"):
        start_emulator(parameters={"BatchSize": 20, "WindowSeconds": 0})


def test_a_failure_after_the_invocation_is_logged_and_the_batch_comes_back(
    start_emulator: StartEmulator,
) -> None:
    """A background batch has no caller: what fails in it must reach the log."""
    lines: list[str] = []
    emulator = start_emulator(background=True, log=lines.append)
    assert emulator.clients is not None

    def refuse(**_: object) -> None:
        raise ConnectionError("injected: DeleteMessageBatch never reached SQS")

    emulator.clients.sqs.meta.events.register("before-send.sqs.DeleteMessageBatch", refuse)
    _send(emulator, "ok")

    _wait_for(lambda: any("DeleteMessageBatch never reached SQS" in line for line in lines))
    assert any(line.startswith("poller Inbox: batch of 1") for line in lines), lines
    emulator.clients.sqs.meta.events.unregister("before-send.sqs.DeleteMessageBatch", refuse)
    emulator.advance(3.5)
    _wait_for(lambda: _depth(emulator, "Inbox") == 0)
