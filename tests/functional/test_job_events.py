"""Optional EventBridge events when jobs end (JobEvents=true), on moto's default bus."""

from __future__ import annotations

import json

from offpath.context import JobContext
from offpath.errors import PermanentError
from offpath.events import JobEvents
from offpath.producer import JobRequest
from offpath.tasks import TaskRegistry
from tests.support import Stack


def test_each_way_a_job_ends_is_one_event_and_a_redelivery_adds_none(stack: Stack) -> None:
    tasks = TaskRegistry()

    @tasks.task
    def works() -> int:
        return 1

    @tasks.task
    def breaks() -> None:
        raise PermanentError("no")

    @tasks.task
    def stops(ctx: JobContext) -> None:
        stack.store.cancel(ctx.job_id)
        ctx.raise_if_cancelled()

    events = JobEvents(stack.calls.attach(stack.clients.events), "default")
    worker = stack.worker(tasks)
    worker.events = events
    stack.producer.events = events
    ids = {name: stack.enqueue(tasks.get(name)).job_id for name in ("works", "breaks", "stops")}
    body = stack.calls.params("SendMessage")[0]["MessageBody"]
    waiting = stack.producer.enqueue(JobRequest(task=tasks.get("works"), args={}, delay_s=600))
    stack.producer.cancel(waiting.job_id)
    stack.drain(worker)
    stack.send_raw(body)  # "works" delivered again after it finished
    stack.drain(worker)

    sent = [
        (entry["DetailType"], json.loads(entry["Detail"]), entry["Source"], entry["EventBusName"])
        for call in stack.calls.params("PutEvents")
        for entry in call["Entries"]
    ]
    assert sorted((kind, detail["job_id"]) for kind, detail, _, _ in sent) == sorted(
        [
            ("offpath.job.succeeded", ids["works"]),
            ("offpath.job.dead", ids["breaks"]),
            ("offpath.job.cancelled", ids["stops"]),
            ("offpath.job.cancelled", waiting.job_id),
        ]
    )
    assert {(source, bus) for _, _, source, bus in sent} == {("offpath", "default")}
    assert {d["task"] for _, d, _, _ in sent} == {"works", "breaks", "stops"}


def test_a_stack_without_job_events_makes_no_eventbridge_call(stack: Stack) -> None:
    tasks = TaskRegistry()

    @tasks.task
    def works() -> int:
        return 1

    stack.enqueue(works)
    stack.drain(stack.worker(tasks))

    assert stack.settings.events_bus == ""
    assert stack.calls.count(service="events") == 0
