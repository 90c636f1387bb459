"""A template's schedules, run as EventBridge and Lambda run them, by the emulator's clock.

:class:`Firing` holds the template's schedules (:mod:`offpath.local.schedules`), the
one-off schedules found in EventBridge Scheduler, EventBridge's delivery retries and
dead-letter queues (:mod:`offpath.local.delivery`) and Lambda's asynchronous
invocations with their retries and destinations (:mod:`offpath.local.async_invoke`).
Nothing here runs by itself: the emulator calls :meth:`Firing.run` twice a second in
the background, and tests call :meth:`Firing.fire_due` after moving the clock.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from offpath.aws import Clients
from offpath.local.async_invoke import AsyncInvoker, Invoke, Submit, as_message_body
from offpath.local.clock import EmulatorClock
from offpath.local.delivery import Deliveries, error_code
from offpath.local.provision import Provisioned
from offpath.local.schedules import LocalSchedule, OneOff, list_one_offs, load_schedules
from offpath.local.template import TemplateError
from offpath.local.topology import Destination

ACCOUNT_ID = "123456789012"


class NotEmulatedError(TemplateError):
    """A target or destination offpath dev does not run (an SNS topic, an event bus)."""


class Firing:
    """Schedules, one-offs, deliveries and asynchronous invocations of one emulator."""

    def __init__(
        self,
        clients: Clients,
        provisioned: Provisioned,
        invoke: Invoke,
        clock: EmulatorClock,
        *,
        region: str,
        rng: random.Random,
        log: Callable[[str], None],
    ) -> None:
        self.clients = clients
        self.provisioned = provisioned
        self.clock = clock
        self.region = region
        self.rng = rng
        self.log = log
        topology = provisioned.topology
        self.schedules = load_schedules(topology, clock.now(), rng)
        self.deliveries = Deliveries(clock.now, log)
        self.async_invoker = AsyncInvoker(
            invoke=invoke,
            configs={lid: spec.async_config for lid, spec in topology.functions.items()},
            send=self._send_to,
            clock=clock.now,
            function_arn=lambda fn: str(topology.resolver.attrs[(fn, "Arn")]),
            log=log,
        )
        self._fired_one_offs: set[tuple[str, str, datetime]] = set()
        self._one_off_jitter_s: dict[tuple[str, str, datetime], float] = {}

    def fire_due(self) -> list[tuple[str, datetime]]:
        """Fire every schedule tick and one-off schedule due by the emulator clock, retry
        the deliveries and asynchronous invocations now due, and run them all here."""
        return self.run(submit=None)

    def run(self, submit: Submit | None) -> list[tuple[str, datetime]]:
        """What :meth:`fire_due` does, each asynchronous invocation run by ``submit``."""
        fired = []
        for name, schedule in self.schedules.items():
            for tick in schedule.due(self.clock.now()):
                self._deliver_tick(schedule, tick)
                fired.append((name, tick))
        fired += self._fire_one_offs()
        self.deliveries.run_due()
        self.async_invoker.run_due(submit)
        return fired

    def _fire_one_offs(self) -> list[tuple[str, datetime]]:
        """Deliver due one-time schedules to their target, as EventBridge Scheduler would:
        once each (``ActionAfterCompletion: NONE`` keeps the schedule, never fires it
        again), within its flexible window, retried and dead-lettered by its own policy."""
        groups = list(self.provisioned.topology.schedule_groups.values())
        fired = []
        for one_off in list_one_offs(self.clients.scheduler, groups):
            if one_off.key in self._fired_one_offs:
                continue
            if self._one_off_fires_at(one_off) > self.clock.now():
                continue
            self._fired_one_offs.add(one_off.key)
            self.deliveries.attempt(
                f"one-off schedule {one_off.name}",
                functools.partial(self._deliver_one_off, one_off),
                one_off.retry,
                functools.partial(self._dead_letter_one_off, one_off)
                if one_off.dead_letter_arn
                else None,
            )
            fired.append((one_off.name, one_off.due_at))
        return fired

    def _one_off_fires_at(self, one_off: OneOff) -> datetime:
        if one_off.key not in self._one_off_jitter_s:
            window_s = one_off.flexible_window_s
            self._one_off_jitter_s[one_off.key] = self.rng.uniform(0, window_s) if window_s else 0
        return one_off.due_at + timedelta(seconds=self._one_off_jitter_s[one_off.key])

    def _deliver_one_off(self, one_off: OneOff, attempt: int) -> None:
        body = one_off.input.replace("<aws.scheduler.attempt-number>", str(attempt))
        function = self._function_by_arn(one_off.target_arn)
        if function is not None:
            self.async_invoker.accept(function, json.loads(body), due_at=one_off.due_at)
        else:
            self.clients.sqs.send_message(
                QueueUrl=self._queue_url_of(one_off.target_arn), MessageBody=body
            )
        if one_off.delete_after:
            self._delete_one_off(one_off)
        self.log(f"one-off schedule {one_off.name} delivered (due {one_off.due_at})")

    def _dead_letter_one_off(self, one_off: OneOff, exc: Exception, attempts: int) -> None:
        """Scheduler's dead-letter message: the input, and why it was not delivered."""
        attributes = {
            "ERROR_CODE": error_code(exc),
            "ERROR_MESSAGE": str(exc)[:256],
            "EXECUTION_ID": str(uuid.uuid4()),
            "RETRY_ATTEMPTS": str(attempts - 1),
            "SCHEDULE_ARN": one_off.arn or one_off.name,
            "TARGET_ARN": one_off.target_arn,
        }
        self._send_to_queue(one_off.dead_letter_arn or "", one_off.input, attributes)
        if one_off.delete_after:
            self._delete_one_off(one_off)

    def _delete_one_off(self, one_off: OneOff) -> None:
        with contextlib.suppress(self.clients.scheduler.exceptions.ResourceNotFoundException):
            self.clients.scheduler.delete_schedule(Name=one_off.name, GroupName=one_off.group)

    def fire(self, name: str) -> Any:
        """Fire one schedule now (``offpath schedules fire NAME``): the function runs here,
        asynchronously invoked as by EventBridge (a failure is retried later too)."""
        if name not in self.schedules:
            known = ", ".join(sorted(self.schedules)) or "none"
            raise KeyError(f"no schedule named {name!r} (the template has: {known})")
        schedule = self.schedules[name]
        tick = self.clock.now().replace(microsecond=0)
        schedule.fired.append(tick)
        event = schedule.event(tick, self.region, ACCOUNT_ID)
        self.log(f"schedule {name} fired by hand for {tick.isoformat()}")
        return self.async_invoker.run_now(schedule.spec.function, event, tick)

    def _deliver_tick(self, schedule: LocalSchedule, tick: datetime) -> None:
        """EventBridge delivers the tick's event to the function: Lambda accepts it for
        an asynchronous invocation that runs as if at the tick, even when the clock
        jumped past several ticks at once."""
        schedule.fired.append(tick)
        spec = schedule.spec
        self.log(f"schedule {spec.name} fired for {tick.isoformat()}")

        def deliver(attempt: int) -> None:
            event = schedule.event(tick, self.region, ACCOUNT_ID)
            self.async_invoker.accept(spec.function, event, due_at=tick)

        def dead_letter(exc: Exception, attempts: int) -> None:
            source = "RULE_ARN" if spec.kind == "Schedule" else "SCHEDULE_ARN"
            attributes = {
                source: schedule.arn,
                "TARGET_ARN": schedule.target_arn,
                "ERROR_CODE": error_code(exc),
                "ERROR_MESSAGE": str(exc)[:256],
                "RETRY_ATTEMPTS": str(attempts - 1),
            }
            event = schedule.event(tick, self.region, ACCOUNT_ID)
            self._send_to_queue(spec.dead_letter_arn or "", event, attributes)

        self.deliveries.attempt(
            f"schedule {spec.name}",
            deliver,
            spec.retry,
            dead_letter if spec.dead_letter_arn else None,
        )

    # ------------------------------------------------------------------ destinations
    def _function_by_arn(self, arn: str) -> str | None:
        attrs = self.provisioned.topology.resolver.attrs
        for logical_id in self.provisioned.topology.functions:
            if arn in (attrs.get((logical_id, "Arn")), logical_id):
                return logical_id
        return None

    def _queue_url_of(self, arn: str) -> str:
        attrs = self.provisioned.topology.resolver.attrs
        for logical_id, url in self.provisioned.queue_urls.items():
            if attrs.get((logical_id, "Arn")) == arn:
                return url
        raise NotEmulatedError(f"{arn} is not a queue of this template")

    def _send_to_queue(self, arn: str, body: Any, attributes: dict[str, str]) -> None:
        self.clients.sqs.send_message(
            QueueUrl=self._queue_url_of(arn),
            MessageBody=as_message_body(body),
            MessageAttributes={
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v
            },
        )

    def _send_to(self, where: Destination, body: Any, attributes: dict[str, str]) -> None:
        """An asynchronous invocation's outcome to its destination or dead-letter queue."""
        if where.kind == "SQS":
            self._send_to_queue(where.arn, body, attributes)
            return
        function = self._function_by_arn(where.arn) if where.kind == "Lambda" else None
        if function is None:
            raise NotEmulatedError(f"{where.kind} destination {where.arn} is not emulated")
        self.async_invoker.accept(function, body)
