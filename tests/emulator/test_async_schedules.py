"""Schedules as EventBridge and Lambda run them: delivery retried then dead-lettered,
asynchronous invocations retried then sent to their destination, flexible windows,
and one-off schedules that fire once.

AWS behaviour each test pins:
- Lambda async retries: two more attempts, 1 min then 2 min apart; then OnFailure
  (invocation-async-error-handling.html, invocation-async-retain-records.html);
- EventBridge Scheduler: RetryPolicy then DeadLetterConfig (managing-schedule-dlq.html);
  FlexibleTimeWindow FLEXIBLE invokes within the window after the scheduled time
  (managing-schedule-flexible-time-windows.html); ActionAfterCompletion NONE keeps a
  one-time schedule, which does not fire again (managing-schedule-delete.html).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from offpath.local.emulator import Emulator
from tests.emulator.conftest import HERE, StartEmulator, read_log
from tests.support import TEMPLATE

pytestmark = pytest.mark.emulator
SCHEDULES = HERE / "schedules.yaml"


def _advance_to(emulator: Emulator, moment: datetime) -> None:
    emulator.advance(max(0.0, (moment - emulator.clock.now()).total_seconds()))


def _messages(emulator: Emulator, queue: str) -> list[dict[str, Any]]:
    assert emulator.clients is not None and emulator.provisioned is not None
    got = emulator.clients.sqs.receive_message(
        QueueUrl=emulator.provisioned.queue_url(queue),
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    return [
        {
            "body": json.loads(m["Body"]),
            **{k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()},
        }
        for m in got
    ]


def _failing_runs(consumer_log: Path) -> list[dict[str, Any]]:
    return [line for line in read_log(consumer_log) if line["event"].get("fail")]


def test_a_failing_scheduled_function_is_retried_twice_then_sent_to_on_failure(
    start_emulator: StartEmulator, consumer_log: Path
) -> None:
    emulator = start_emulator(SCHEDULES)
    tick = emulator.schedules["Failing"].next_at
    assert tick is not None

    _advance_to(emulator, tick + timedelta(seconds=1))
    emulator.fire_due()
    assert len(_failing_runs(consumer_log)) == 1
    _advance_to(emulator, tick + timedelta(seconds=55))
    emulator.fire_due()
    assert len(_failing_runs(consumer_log)) == 1, "the first retry waits a minute"
    _advance_to(emulator, tick + timedelta(seconds=62))
    emulator.fire_due()
    assert len(_failing_runs(consumer_log)) == 2
    assert _messages(emulator, "Failures") == []
    _advance_to(emulator, tick + timedelta(seconds=183))
    emulator.fire_due()

    assert len(_failing_runs(consumer_log)) == 3, "two retries, then no more"
    [record] = _messages(emulator, "Failures")
    body = record["body"]
    assert body["requestContext"]["condition"] == "RetriesExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 3
    assert body["requestPayload"] == {"fail": True}
    assert body["responseContext"]["functionError"] == "Unhandled"
    assert body["responsePayload"]["errorType"] == "RuntimeError"
    emulator.advance(3600)
    emulator.fire_due()
    assert len(_failing_runs(consumer_log)) == 3


def test_a_delivery_that_keeps_failing_goes_to_the_schedules_dead_letter_queue(
    start_emulator: StartEmulator, consumer_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = start_emulator(SCHEDULES)
    tick = emulator.schedules["Failing"].next_at
    assert tick is not None

    def throttled(*_: object, **__: object) -> None:
        # What Lambda answers an Invoke it cannot take: EventBridge retries it.
        raise ClientError(
            {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke"
        )

    monkeypatch.setattr(emulator.async_invoker, "accept", throttled)
    _advance_to(emulator, tick + timedelta(seconds=1))
    emulator.fire_due()
    assert _messages(emulator, "Undeliverable") == []
    emulator.advance(1.5)  # the retry (RetryPolicy: 1) fails too
    emulator.fire_due()

    [dead] = _messages(emulator, "Undeliverable")
    assert dead["body"] == {"fail": True}
    assert dead["ERROR_CODE"] == "TooManyRequestsException"
    assert dead["SCHEDULE_ARN"].endswith("Failing")
    assert dead["TARGET_ARN"].endswith(":function:offpath-Ticker")
    assert dead["RETRY_ATTEMPTS"] == "1"
    assert read_log(consumer_log) == [], "never delivered, never run"


def test_a_flexible_window_fires_after_the_scheduled_time_within_the_window(
    start_emulator: StartEmulator, consumer_log: Path
) -> None:
    emulator = start_emulator(SCHEDULES, seed=7)
    flexible = emulator.schedules["Flexible"]
    tick, fires_at = flexible.next_at, flexible.next_fire_at
    assert tick is not None and fires_at is not None
    assert tick < fires_at <= tick + timedelta(minutes=30)

    _advance_to(emulator, fires_at - timedelta(seconds=1))
    assert "Flexible" not in [name for name, _ in emulator.fire_due()]
    emulator.advance(2)
    assert ("Flexible", tick) in emulator.fire_due()
    runs = [line["event"] for line in read_log(consumer_log) if not line["event"]["fail"]]
    assert runs == [{"fail": False}]


def _one_off(emulator: Emulator, name: str, at: datetime, to: str, **extra: Any) -> None:
    assert emulator.clients is not None and emulator.provisioned is not None
    topology = emulator.provisioned.topology
    target: Any = {
        "Arn": topology.resolver.attrs[(to, "Arn")],
        "RoleArn": topology.resolver.attrs[("SchedulerRole", "Arn")],
        "Input": json.dumps({"one_off": name}),
        **extra.pop("target", {}),
    }
    emulator.clients.scheduler.create_schedule(
        Name=name,
        GroupName=next(iter(topology.schedule_groups.values())),
        ScheduleExpression=f"at({at:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
        **extra,
    )


def test_a_one_off_kept_after_completion_fires_once(start_emulator: StartEmulator) -> None:
    """ActionAfterCompletion NONE used to fire on every half-second tick."""
    emulator = start_emulator(TEMPLATE)
    due = emulator.clock.now().replace(microsecond=0) + timedelta(minutes=5)
    _one_off(emulator, "kept", due, "JobsDeadLetterQueue", ActionAfterCompletion="NONE")

    # Only the one-off: the template's own schedules may tick, depending on the hour.
    assert [name for name, _ in emulator.fire_due() if name == "kept"] == []
    _advance_to(emulator, due + timedelta(seconds=1))
    assert [name for name, _ in emulator.fire_due() if name == "kept"] == ["kept"]
    for _ in range(3):
        emulator.advance(1)
        assert [n for n, _ in emulator.fire_due() if n == "kept"] == []

    assert [m["body"] for m in _messages(emulator, "JobsDeadLetterQueue")] == [{"one_off": "kept"}]
    assert emulator.clients is not None
    group = next(iter(emulator.provisioned.topology.schedule_groups.values()))  # type: ignore[union-attr]
    assert emulator.clients.scheduler.get_schedule(Name="kept", GroupName=group)["Name"] == "kept"


def test_a_one_off_whose_target_refuses_is_retried_then_dead_lettered_with_its_reason(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator(TEMPLATE)
    assert emulator.clients is not None and emulator.provisioned is not None
    jobs_queue = emulator.provisioned.queue_url("JobsQueue")
    dlq_arn = emulator.provisioned.topology.resolver.attrs[("JobsDeadLetterQueue", "Arn")]

    def refuse(params: dict[str, Any], **_: object) -> None:
        if params.get("QueueUrl") == jobs_queue:
            raise ClientError(
                {"Error": {"Code": "KMS.DisabledException", "Message": "key disabled"}},
                "SendMessage",
            )

    emulator.clients.sqs.meta.events.register("provide-client-params.sqs.SendMessage", refuse)
    due = emulator.clock.now().replace(microsecond=0) + timedelta(minutes=1)
    _one_off(
        emulator,
        "refused",
        due,
        "JobsQueue",
        ActionAfterCompletion="DELETE",
        target={
            "RetryPolicy": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
    )

    _advance_to(emulator, due + timedelta(seconds=1))
    emulator.fire_due()
    assert _messages(emulator, "JobsDeadLetterQueue") == []
    emulator.advance(1.5)
    emulator.fire_due()

    [dead] = _messages(emulator, "JobsDeadLetterQueue")
    assert dead["body"] == {"one_off": "refused"}
    assert (dead["ERROR_CODE"], dead["RETRY_ATTEMPTS"]) == ("KMS.DisabledException", "1")
    assert dead["TARGET_ARN"].endswith(":offpath-JobsQueue")
    group = next(iter(emulator.provisioned.topology.schedule_groups.values()))
    with pytest.raises(ClientError, match="ResourceNotFound"):
        emulator.clients.scheduler.get_schedule(Name="refused", GroupName=group)
