"""One clock: the lifecycle reads the platform's time, never ``datetime.now()`` itself.

Inside ``offpath dev`` the platform's clock runs ahead when a test moves time
(:func:`offpath.invocation.clock_offset`); the objects the Lambda handlers build
(:mod:`offpath.runtime`) must see that time in leases, enqueue times and TTLs.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import functions.shared.tasks as example_tasks

from offpath.aws import Clients
from offpath.envelope import Envelope
from offpath.invocation import clock_offset
from offpath.producer import request
from offpath.runtime import build_producer, build_store
from offpath.settings import Settings
from tests.support import Stack

LIFECYCLE = ("producer", "store", "worker", "schedules", "oneoff", "deadletters", "retry")
SRC = Path(__file__).resolve().parents[2] / "src" / "offpath"


def test_no_lifecycle_module_reads_the_wall_clock_itself() -> None:
    direct = re.compile(r"datetime\.(now|utcnow)\(|time\.time\(")
    offenders = [
        f"{name}.py:{number}"
        for name in LIFECYCLE
        for number, line in enumerate((SRC / f"{name}.py").read_text().splitlines(), 1)
        if direct.search(line)
    ]
    assert offenders == []


def test_the_runtime_wires_the_platform_clock_into_producer_and_store(stack: Stack) -> None:
    settings = Settings()
    clients = Clients("us-east-1")
    day_s = 24 * 3600.0

    with clock_offset(day_s):
        ahead = datetime.now(UTC) + timedelta(seconds=day_s)
        producer = build_producer(settings, clients)
        job = producer.enqueue(request(example_tasks.generate_report, 1, "2026-06"))
        claim = build_store(settings, clients).claim(job.job_id, "generate_report", lease_s=30)

    [message] = stack.receive_all(stack.queue_url)
    enqueued_at = Envelope.from_body(message["Body"]).enqueued_at
    assert abs((enqueued_at - ahead).total_seconds()) < 60
    assert claim.attempts == 1
    record = stack.store.get(job.job_id)
    assert record.created_at > ahead - timedelta(seconds=60)
    assert record.lease_until is not None
    assert abs((record.lease_until - ahead).total_seconds() - 30) < 60
