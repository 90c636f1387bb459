"""The dashboard's parts: each a pure function from data to an HTML fragment.

A page is its parts laid out once (:mod:`offpath.local.dashboard.pages`); the script
then fetches the same parts as JSON every two seconds and swaps each one in, so the
markup is written in one place only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from offpath.local.dashboard.chart import queue_chart
from offpath.local.dashboard.history import Sample
from offpath.local.dashboard.markup import (
    action_button,
    ago,
    badge,
    between,
    empty_row,
    h,
    moment,
    path_url,
    pretty_json,
    shorten,
    span_text,
)
from offpath.local.dashboard.sources import FunctionSummary, JobFilter, PoolRow, ScheduleRow
from offpath.local.lambda_env import Invocation
from offpath.ops.messages import DeadMessage
from offpath.ops.status import JobsSample, QueueCounts
from offpath.store import Job, JobStatus

JOBS_SHOWN = 50
INVOCATIONS_SHOWN = 30

REDRIVE_URL = "/dashboard/dlq/redrive"
PURGE_URL = "/dashboard/dlq/purge"


@dataclass(frozen=True)
class QueueCard:
    """One queue: its latest counts, the age of its oldest message, its history."""

    name: str
    url: str
    latest: QueueCounts | None
    oldest_s: float | None
    oldest_note: str
    samples: Sequence[Sample]


def queues_part(cards: Sequence[QueueCard], *, now: float, window_s: float) -> str:
    if not cards:
        return '<p class="none">This template has no jobs\' queue to show.</p>'
    return f'<div class="cards">{"".join(_queue_card(c, now, window_s) for c in cards)}</div>'


def _queue_card(card: QueueCard, now: float, window_s: float) -> str:
    counts = card.latest
    figures = (
        ("waiting", counts.visible if counts else None, "visible"),
        ("in flight", counts.in_flight if counts else None, "in_flight"),
        ("delayed", counts.delayed if counts else None, "delayed"),
    )
    stats = "".join(
        f'<div class="stat stat-{key}"><dt>{h(label)}</dt>'
        f'<dd data-stat="{key}">{h("-" if value is None else value)}</dd></div>'
        for label, value, key in figures
    )
    stats += (
        f'<div class="stat"><dt>oldest</dt><dd data-stat="oldest" title="{h(card.oldest_note)}">'
        f"{h(span_text(card.oldest_s))}</dd></div>"
    )
    chart = queue_chart(card.samples, now=now, window_s=window_s, title=f"{card.name} over time")
    return (
        f'<article class="card" data-queue="{h(card.name)}">'
        f'<h3 title="{h(card.url)}">{h(card.name)}</h3><dl class="stats">{stats}</dl>'
        f"{chart}</article>"
    )


def pools_part(rows: Sequence[PoolRow]) -> str:
    """Every pool on one table: its queue's counts, its DLQ's depth, its worker's runs."""
    if not rows:
        return ""
    body = "".join(_pool_row(row) for row in rows)
    return (
        '<table class="pools"><caption>each pool: its queue, its dead-letter queue and '
        "its worker function</caption><thead><tr><th>pool</th><th>queue</th>"
        "<th>waiting</th><th>in flight</th><th>delayed</th><th>dead-letter queue</th>"
        "<th>dead</th><th>worker</th><th>invocations</th><th>errors</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _count(value: int | None) -> str:
    return h("-" if value is None else value)


def _pool_row(row: PoolRow) -> str:
    pool, queue, dlq = row.pool, row.queue, row.dlq
    cells = (
        ("visible", queue.visible if queue else None),
        ("in_flight", queue.in_flight if queue else None),
        ("delayed", queue.delayed if queue else None),
    )
    counts = "".join(f'<td class="num" data-stat="{key}">{_count(v)}</td>' for key, v in cells)
    dead = dlq.total if dlq else None
    return (
        f'<tr data-pool="{h(pool.name)}">'
        f'<td><a href="{h(path_url(query={"pool": pool.name}))}#dlq">{h(pool.name)}</a></td>'
        f'<td title="{h(pool.queue_url)}">{h(pool.queue_name)}</td>{counts}'
        f'<td title="{h(pool.dlq_url)}">{h(pool.dlq_name or "-")}</td>'
        f'<td class="num" data-stat="dead">{_count(dead)}</td>'
        f"<td>{h(pool.function or '-')}</td>"
        f'<td class="num" data-stat="invocations">{row.invocations}</td>'
        f'<td class="num" data-stat="errors">{row.errors}</td></tr>'
    )


def status_filter_options(chosen: JobFilter) -> str:
    """The status ``<select>``'s options, the chosen one selected."""
    options = ['<option value="">any status</option>']
    for status in JobStatus:
        selected = " selected" if chosen.status == status else ""
        options.append(f'<option value="{h(status)}"{selected}>{h(status)}</option>')
    return "".join(options)


def task_filter_options(sample: JobsSample | None, chosen: JobFilter) -> str:
    """The task ``<select>``'s options: every task seen, and the chosen one."""
    tasks = {job.task for job in sample.latest} if sample else set()
    if chosen.task:
        tasks.add(chosen.task)
    options = ['<option value="">any task</option>']
    for task in sorted(tasks):
        selected = " selected" if chosen.task == task else ""
        options.append(f'<option value="{h(task)}"{selected}>{h(task)}</option>')
    return "".join(options)


def jobs_part(sample: JobsSample | None, chosen: JobFilter, now: datetime) -> str:
    if sample is None:
        return '<p class="none">This template has no job table: no job records to show.</p>'
    chips = "".join(
        f'<a class="chip" href="{h(path_url("", query={**chosen.query(), "status": status}))}" '
        f'data-count="{h(status)}">{badge(status)} {sample.by_status.get(status, 0)}</a>'
        for status in JobStatus
        if sample.by_status.get(status)
    )
    matching = [job for job in sample.latest if chosen.matches(job)]
    rows = "".join(_job_row(job, now) for job in matching[:JOBS_SHOWN])
    if not rows:
        rows = empty_row(7, "No job matches." if sample.latest else "No job yet.")
    shown = min(len(matching), JOBS_SHOWN)
    caption = f"{shown} of {len(matching)} matching, most recently updated first"
    if sample.scanned >= 1000:
        caption += f" (from the first {sample.scanned} items scanned)"
    return (
        f'<div class="chips">{chips}</div>'
        f'<table class="jobs"><caption>{h(caption)}</caption>'
        "<thead><tr><th>job</th><th>task</th><th>status</th><th>attempts</th>"
        "<th>updated</th><th>ran for</th><th>last error</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _job_row(job: Job, now: datetime) -> str:
    error = job.last_error
    return (
        f'<tr data-job-id="{h(job.job_id)}" data-status="{h(job.status)}" '
        f'data-task="{h(job.task)}">'
        f'<td class="id"><a href="{h(path_url("jobs", job.job_id))}">{h(job.job_id)}</a></td>'
        f"<td>{h(job.task)}</td><td data-cell=status>{badge(job.status)}</td>"
        f'<td class="num">{job.attempts}</td><td>{ago(job.updated_at, now)}</td>'
        f"<td>{h(between(job.started_at, job.finished_at))}</td>"
        f'<td class="error">{shorten(f"{error.type}: {error.message}" if error else "", 80)}</td>'
        "</tr>"
    )


def dlq_part(
    messages: Sequence[DeadMessage],
    now: datetime,
    *,
    visible: int | None,
    whole_queue_actions: bool = True,
) -> str:
    count = len(messages)
    actions = ""
    if count and whole_queue_actions:
        actions = (
            '<div class="actions">'
            + action_button(
                f"Redrive all ({count})",
                REDRIVE_URL,
                body={"all": True},
                confirm=f"Redrive every message of the dead-letter queue ({count} listed) "
                "to its queue? Each job runs again with a fresh retry budget.",
            )
            + action_button(
                "Purge",
                PURGE_URL,
                confirm=f"Purge the dead-letter queue? Its {count} message(s) are deleted "
                "for good; their job records stay dead.",
            )
            + "</div>"
        )
    rows = "".join(_dead_row(message, now) for message in messages)
    hidden = ""
    if visible is not None and visible > count:
        hidden = f" ({visible - count} more not listed)"
    return (
        f"{actions}"
        f'<table class="dlq"><caption>{count} message(s){h(hidden)}; peeked: received, '
        "then made visible again</caption>"
        "<thead><tr><th>job</th><th>task</th><th>reason</th><th>attempts</th>"
        "<th>last error</th><th>dead</th><th>message</th><th></th></tr></thead>"
        f"<tbody>{rows or empty_row(8, 'The dead-letter queue is empty.')}</tbody></table>"
    )


def _dead_row(message: DeadMessage, now: datetime) -> str:
    job = (
        f'<a href="{h(path_url("jobs", message.job_id))}">{h(message.job_id)}</a>'
        if message.job_id
        else '<span class="none">-</span>'
    )
    error = " ".join(part for part in (message.error_type, message.error_message) if part)
    return (
        f'<tr data-message-id="{h(message.message_id)}" data-job-id="{h(message.job_id)}">'
        f'<td class="id">{job}</td><td>{h(message.task or "-")}</td>'
        f"<td>{badge(message.reason, 'reason')}</td>"
        f'<td class="num">{h("-" if message.attempts is None else message.attempts)}</td>'
        f'<td class="error">{shorten(error, 80)}</td>'
        f"<td>{ago(message.failed_at, now)}</td>"
        f'<td class="id" title="{h(message.message_id)}">{h(message.message_id[:8])}</td>'
        f"<td>{_redrive_button(message)}</td></tr>"
    )


def _redrive_button(message: DeadMessage) -> str:
    what = f"job {message.job_id} ({message.task})" if message.job_id else "this message"
    return action_button(
        "Redrive",
        REDRIVE_URL,
        body={"message_id": message.message_id},
        confirm=f"Redrive {what} to its queue? It runs again with a fresh retry budget.",
    )


def schedules_part(rows: Sequence[ScheduleRow], now: datetime) -> str:
    body = "".join(_schedule_row(row, now) for row in rows)
    return (
        '<table class="schedules"><thead><tr><th>name</th><th>kind</th><th>expression</th>'
        "<th>time zone</th><th>task</th><th>next fire times</th><th>last fired</th><th></th>"
        f"</tr></thead><tbody>{body or empty_row(8, 'The template has no schedule.')}</tbody>"
        "</table>"
    )


def _schedule_row(row: ScheduleRow, now: datetime) -> str:
    zone = ZoneInfo(row.timezone) if row.timezone else None
    upcoming = "".join(f"<li>{_tick(tick, zone)}</li>" for tick in row.upcoming)
    kind = "EventBridge rule" if row.kind == "Schedule" else "EventBridge Scheduler"
    fire = action_button("Fire now", path_url("dashboard", "schedules", row.name, "fire"))
    return (
        f'<tr data-schedule="{h(row.name)}"><td>{h(row.name)}</td><td>{h(kind)}</td>'
        f"<td><code>{h(row.expression)}</code></td><td>{h(row.timezone or 'UTC')}</td>"
        f"<td>{h(row.task or '-')}</td>"
        f'<td><ul class="ticks">{upcoming or "<li>(disabled)</li>"}</ul></td>'
        f"<td>{ago(row.last_fired, now)}</td><td>{fire}</td></tr>"
    )


def _tick(tick: datetime, zone: ZoneInfo | None) -> str:
    """A fire time in UTC, and in the schedule's own time zone when it has one."""
    if zone is None:
        return moment(tick)
    local = tick.astimezone(zone).strftime("%H:%M %Z")
    return f'{moment(tick)} <span class="local">{h(local)}</span>'


def invocations_part(
    invocations: Sequence[Invocation], summaries: Sequence[FunctionSummary]
) -> str:
    summary_rows = "".join(
        f'<tr data-function="{h(s.function)}"><td>{h(s.function)}</td>'
        f'<td class="num">{s.invocations}</td><td class="num">{s.cold}</td>'
        f'<td class="num">{s.errors}</td><td class="num">{s.records_in}</td>'
        f'<td class="num">{s.failures_out}</td><td class="num">{s.median_ms:.0f} ms</td>'
        f'<td class="num">{s.max_ms:.0f} ms</td></tr>'
        for s in summaries
    )
    recent = sorted(invocations, key=lambda i: i.at, reverse=True)[:INVOCATIONS_SHOWN]
    rows = "".join(_invocation_row(i) for i in recent)
    return (
        '<table class="summary"><thead><tr><th>function</th><th>invocations</th><th>cold</th>'
        "<th>errors</th><th>records in</th><th>failures out</th><th>median</th><th>max</th>"
        f"</tr></thead><tbody>{summary_rows or empty_row(8, 'No invocation yet.')}</tbody>"
        "</table>"
        f'<table class="invocations"><caption>the last {len(recent)}, newest first</caption>'
        "<thead><tr><th>at</th><th>function</th><th></th><th>duration</th><th>records in</th>"
        "<th>failures out</th><th>outcome</th></tr></thead>"
        f"<tbody>{rows or empty_row(7, 'No invocation yet.')}</tbody></table>"
    )


def _invocation_row(invocation: Invocation) -> str:
    at = datetime.fromtimestamp(invocation.at, UTC)
    temperature = "cold" if invocation.cold else "warm"
    outcome = badge("ok") if invocation.ok else badge("error") + " " + shorten(invocation.error, 80)
    records = invocation.records_in if invocation.records_in else "-"
    failures = invocation.failures_out if invocation.records_in else "-"
    return (
        f'<tr data-request-id="{h(invocation.request_id)}" data-function="{h(invocation.function)}"'
        f' data-temperature="{temperature}">'
        f'<td><time datetime="{h(at.isoformat())}">{h(at.strftime("%H:%M:%S"))}</time></td>'
        f"<td>{h(invocation.function)}</td><td>{badge(temperature)}</td>"
        f'<td class="num">{invocation.duration_ms:.0f} ms</td><td class="num">{h(records)}</td>'
        f'<td class="num">{h(failures)}</td><td>{outcome}</td></tr>'
    )


def _progress(job: Job) -> str:
    if job.progress is None:
        return "-"
    note = f" · {job.progress_note}" if job.progress_note else ""
    return f"{job.progress:.0%}{note}"


def _deliveries(job: Job, deliveries: Sequence[Job]) -> str:
    if not job.callback_url:
        return ""
    rows = "".join(
        f'<tr data-delivery="{h(d.job_id)}"><td><code>{h(d.job_id)}</code></td>'
        f"<td>{badge(d.status)}</td><td class=num>{d.attempts}</td>"
        f"<td>{h(_response_code(d))}</td><td>{moment(d.updated_at)}</td></tr>"
        for d in deliveries
    )
    body = (
        "<table><thead><tr><th>delivery job</th><th>status</th><th>attempts</th>"
        f"<th>last response</th><th>updated</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else '<p class="none">No delivery yet: one is enqueued when the job ends.</p>'
    )
    return f"<h3>Webhook to <code>{h(job.callback_url)}</code></h3>{body}"


def _response_code(delivery: Job) -> str:
    """The receiver's last answer: its status code once sent, else the last error."""
    if isinstance(delivery.result, dict) and "status_code" in delivery.result:
        return str(delivery.result["status_code"])
    if delivery.last_error:
        return delivery.last_error.message
    return "-"


def job_part(
    job: Job | None,
    job_id: str,
    dead: Sequence[DeadMessage],
    now: datetime,
    deliveries: Sequence[Job] = (),
) -> str:
    if job is None:
        return (
            f'<p class="none">No record of job <code>{h(job_id)}</code> (yet): fire-and-forget '
            "jobs keep none.</p>"
        )
    facts = (
        ("task", h(job.task)),
        ("status", f"<span data-cell=status>{badge(job.status)}</span>"),
        ("attempts", f'<span data-cell="attempts">{job.attempts}</span>'),
        ("correlation id", f"<code>{h(job.correlation_id or '-')}</code>"),
        ("idempotency key", h(job.idempotency_key or "-")),
        ("schedule", h(job.schedule_name or "-")),
        ("created", f"{moment(job.created_at)} ({ago(job.created_at, now)})"),
        ("due", moment(job.due_at)),
        ("last attempt started", moment(job.started_at)),
        ("finished", moment(job.finished_at)),
        ("waited", h(between(job.created_at, job.started_at))),
        ("ran for", h(between(job.started_at, job.finished_at))),
        ("lease until", moment(job.lease_until)),
        ("progress", f'<span data-cell="progress">{h(_progress(job))}</span>'),
        (
            "cancel requested",
            f'<span data-cell="cancel-requested">{moment(job.cancel_requested_at)}</span>',
        ),
        ("updated", f"{moment(job.updated_at)} ({ago(job.updated_at, now)})"),
    )
    listing = "".join(f"<div><dt>{h(name)}</dt><dd>{value}</dd></div>" for name, value in facts)
    error = (
        f'<h3>Last error</h3><pre class="error" data-cell="last-error">'
        f"{h(job.last_error.type)}: {h(job.last_error.message)}</pre>"
        if job.last_error
        else ""
    )
    result = (
        f'<h3>Result</h3><div data-cell="result">{pretty_json(job.result)}</div>'
        if (job.result is not None)
        else ""
    )
    dead_part = (
        f"<h3>In the dead-letter queue</h3>"
        f"{dlq_part(dead, now, visible=None, whole_queue_actions=False)}"
        if dead
        else ""
    )
    hooks = _deliveries(job, deliveries)
    return f'<dl class="facts">{listing}</dl>{error}{result}{hooks}{dead_part}'
