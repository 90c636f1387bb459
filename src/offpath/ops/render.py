"""Rich views of the operator engines' results (pure: data in, renderables out)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from offpath.ops.messages import DeadMessage
from offpath.ops.status import QueueCounts, StatusReport
from offpath.store import Job

MAX_ERROR_CHARS = 80


def dead_letter_table(messages: list[DeadMessage], dlq_url: str) -> Table:
    """One row per message; ids are never cut short (they fold), so they can be copied.

    The id is the job id, or the message id when the body names no job.
    """
    table = Table(
        title=f"{len(messages)} message(s) in {dlq_url}",
        caption="peeked: received, then made visible again; details: offpath dlq show ID",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("id", overflow="fold", no_wrap=True, min_width=32)
    table.add_column("task", overflow="fold")
    table.add_column("tries", justify="right")
    table.add_column("reason", no_wrap=True)
    table.add_column("dead at (UTC)", no_wrap=True)
    table.add_column("last error", overflow="fold", ratio=1)
    for m in messages:
        table.add_row(
            m.job_id or m.message_id,
            m.task or "-",
            "-" if m.attempts is None else str(m.attempts),
            m.reason,
            _when(m.failed_at),
            escape(_error(m.error_type, m.error_message, MAX_ERROR_CHARS)),
        )
    return table


def dead_message_view(message: DeadMessage) -> RenderableType:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for name, value in (
        ("message id", message.message_id),
        ("job id", message.job_id),
        ("task", message.task),
        ("reason", message.reason),
        ("attempts", message.attempts),
        ("error", _error(message.error_type, message.error_message)),
        ("correlation id", message.correlation_id),
        ("enqueued", _when(message.enqueued_at)),
        ("first attempt", _when(message.first_attempt_at)),
        ("dead at", _when(message.failed_at)),
    ):
        facts.add_row(name, escape("-" if value is None else str(value)))
    return Group(facts, Syntax(_pretty(message.body), "json", word_wrap=True), "")


def job_view(job: Job) -> tuple[RenderableType, dict[str, Any]]:
    """The job as a table, and as JSON."""
    data = asdict(job)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.astimezone(UTC).isoformat()
    data["status"] = str(job.status)
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for key, value in data.items():
        if value is None:
            continue
        shown = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
        facts.add_row(key.replace("_", " "), escape(shown))
    return facts, data


def status_view(report: StatusReport) -> RenderableType:
    queues = Table(
        "queue",
        "visible",
        "in flight",
        "delayed",
        "oldest (s)",
        title=f"{report.target} at {report.at:%H:%M:%S} UTC",
    )
    rows: list[tuple[QueueCounts, str]] = [
        (report.queue, ""),
        (report.dead_letter_queue, " (DLQ)"),
    ]
    for name, (queue, dead) in report.pools.items():
        if queue is report.queue:
            continue  # the default pool's, above
        rows.append((queue, f" (pool {name})"))
        if dead is not None:
            rows.append((dead, f" (pool {name}, DLQ)"))
    for counts, role in rows:
        queues.add_row(
            escape(_queue_name(counts.url)) + role,
            str(counts.visible),
            str(counts.in_flight),
            str(counts.delayed),
            _age(counts),
        )
    notes = {
        c.oldest_age_note for c in (report.queue, report.dead_letter_queue) if c.oldest_age_note
    }
    workers = Table("pool", "worker", "invocations", "source", title="workers")
    for name, runs in report.workers.items():
        ran = "-" if runs.invocations is None else str(runs.invocations)
        workers.add_row(escape(name), escape(runs.function), ran, escape(runs.note))
    jobs = Table("status", "jobs", title="job records")
    for status, count in sorted(report.jobs.by_status.items()):
        jobs.add_row(status, str(count))
    latest = Table("job id", "task", "status", "attempts", "updated", title="latest in the sample")
    for job in report.jobs.latest:
        latest.add_row(
            job.job_id, job.task, str(job.status), str(job.attempts), _when(job.updated_at)
        )
    sample = (
        f"[dim]job records: a sample, {report.jobs.sampled} of the first "
        f"{report.jobs.scanned} items a bounded Scan read; not the whole table[/]"
    )
    oldest = [f"[dim]oldest: {escape(note)}[/]" for note in sorted(notes)]
    shown = [workers] if report.workers else []
    return Group(queues, *oldest, *shown, jobs, latest, sample)


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _age(counts: QueueCounts) -> str:
    return "-" if counts.oldest_age_s is None else f"{counts.oldest_age_s:.0f}"


def _error(kind: str | None, message: str | None, limit: int | None = None) -> str:
    if not kind:
        return "-"
    text = f"{kind}: {message}" if message else kind
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _pretty(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2)
    except ValueError:
        return body
