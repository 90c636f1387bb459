"""The dashboard's renderers: pure functions, so tested without a browser or AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from offpath.local.dashboard.chart import nice_ceiling, queue_chart
from offpath.local.dashboard.history import Sample
from offpath.local.dashboard.markup import action_button, path_url, span_text
from offpath.local.dashboard.pages import dashboard_page, job_page
from offpath.local.dashboard.parts import (
    QueueCard,
    dlq_part,
    invocations_part,
    job_part,
    jobs_part,
    pools_part,
    queues_part,
    schedules_part,
    task_filter_options,
)
from offpath.local.dashboard.sources import (
    JobFilter,
    PoolResources,
    PoolRow,
    ScheduleRow,
    summarize,
)
from offpath.local.lambda_env import Invocation
from offpath.ops.messages import DeadMessage
from offpath.ops.status import JobsSample, QueueCounts
from offpath.store import Job, JobError, JobStatus

NOW = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)
EVIL = '<script>alert("x")</script>'


def _job(**changes: object) -> Job:
    fields: dict[str, object] = {
        "job_id": "j1",
        "task": "generate_report",
        "status": JobStatus.SUCCEEDED,
        "attempts": 1,
        "created_at": NOW - timedelta(seconds=30),
        "updated_at": NOW - timedelta(seconds=5),
        "started_at": NOW - timedelta(seconds=6),
        "finished_at": NOW - timedelta(seconds=5),
        "correlation_id": "c1",
        "result": {"url": "https://reports.example.com/1.pdf"},
    }
    fields.update(changes)
    return Job(**fields)  # type: ignore[arg-type]


def _dead(**changes: object) -> DeadMessage:
    fields: dict[str, object] = {
        "message_id": "m-1234567890",
        "reason": "permanent_error",
        "job_id": "j2",
        "task": "reject",
        "attempts": 1,
        "error_type": "PermanentError",
        "error_message": "bad input",
        "failed_at": NOW - timedelta(minutes=3),
    }
    fields.update(changes)
    return DeadMessage(**fields)  # type: ignore[arg-type]


def _hostile_page() -> str:
    """Every part, with a script tag in every string a user or a task controls."""
    job = _job(
        job_id="j:1",
        task=EVIL,
        status=JobStatus.DEAD,
        correlation_id=EVIL,
        idempotency_key=EVIL,
        last_error=JobError(EVIL, EVIL),
        result={EVIL: EVIL},
    )
    dead = _dead(job_id=EVIL, task=EVIL, error_type=EVIL, error_message=EVIL, reason=EVIL)
    schedule = ScheduleRow(EVIL, "ScheduleV2", EVIL, "Europe/Paris", EVIL, EVIL, True, [NOW], NOW)
    invocation = Invocation(EVIL, EVIL, True, 12.0, False, 1, 1, EVIL, NOW.timestamp())
    sample = JobsSample(1, {"dead": 1}, [job])
    chosen = JobFilter(task=EVIL)
    parts = {
        "jobs": jobs_part(sample, chosen, NOW),
        "task-options": task_filter_options(sample, chosen),
        "dlq": dlq_part([dead], NOW, visible=1),
        "schedules": schedules_part([schedule], NOW),
        "invocations": invocations_part([invocation], summarize([invocation])),
    }
    return (
        dashboard_page(parts, "", api_url=EVIL)
        + job_page(EVIL, {"job": ""}, EVIL)
        + (job_part(job, job.job_id, [dead], NOW))
    )


def test_no_value_reaches_the_markup_unescaped() -> None:
    page = _hostile_page()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    # The page's own script is the only one, loaded from this server.
    assert page.count("<script") == 2  # dashboard page + job page, one each
    assert ' style="' not in page  # the CSP forbids inline styles


def test_an_action_carries_its_url_body_and_question_as_escaped_attributes() -> None:
    button = action_button("Redrive", "/dashboard/dlq/redrive", body={"id": EVIL}, confirm=EVIL)
    assert 'data-post="/dashboard/dlq/redrive"' in button
    assert 'data-body="{&quot;id&quot;: &quot;&lt;script&gt;' in button
    assert 'data-confirm="&lt;script&gt;' in button


def test_a_job_id_with_a_colon_is_one_path_segment() -> None:
    assert path_url("jobs", "DailyDigest:2026-06-02T08:00:00Z") == (
        "/jobs/DailyDigest%3A2026-06-02T08%3A00%3A00Z"
    )
    assert path_url("", query={"status": "dead", "task": ""}) == "/?status=dead"


def test_the_jobs_list_filters_by_status_and_task_and_counts_by_status() -> None:
    jobs = [
        _job(job_id="a", status=JobStatus.SUCCEEDED),
        _job(job_id="b", status=JobStatus.DEAD, task="reject"),
        _job(job_id="c", status=JobStatus.DEAD, task="always_fail"),
    ]
    sample = JobsSample(3, {"succeeded": 1, "dead": 2}, jobs)

    html = jobs_part(sample, JobFilter(status="dead", task="reject"), NOW)

    assert 'data-job-id="b"' in html
    assert 'data-job-id="a"' not in html and 'data-job-id="c"' not in html
    assert "1 of 1 matching" in html
    assert 'href="/?status=dead&amp;task=reject"' in html  # the chip keeps the task


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "dead", "task": "reject"}, JobFilter("dead", "reject")),
        ({"status": "exploded"}, JobFilter("", "")),  # not a status: ignored
        ({}, JobFilter()),
    ],
)
def test_filters_come_from_the_query_string(query: dict[str, str], expected: JobFilter) -> None:
    assert JobFilter.from_query(query) == expected


def test_the_dlq_offers_redrive_for_each_message_and_for_all_behind_questions() -> None:
    html = dlq_part([_dead(), _dead(message_id="m-2", job_id="j3")], NOW, visible=5)

    assert html.count('data-post="/dashboard/dlq/redrive"') == 3
    assert html.count("data-confirm=") == 4  # two rows, redrive all, purge
    assert "(3 more not listed)" in html
    assert 'data-body="{&quot;message_id&quot;: &quot;m-2&quot;}"' in html


def test_a_jobs_page_in_the_dlq_offers_only_its_own_redrive() -> None:
    html = job_part(_job(status=JobStatus.DEAD), "j1", [_dead(job_id="j1")], NOW)
    assert "Redrive all" not in html and "Purge" not in html
    assert html.count('data-post="/dashboard/dlq/redrive"') == 1


def test_a_missing_job_says_fire_and_forget_jobs_keep_no_record() -> None:
    assert "fire-and-forget" in job_part(None, "nope", [], NOW)


def test_a_schedule_in_a_time_zone_shows_both_times() -> None:
    row = ScheduleRow(
        "ExchangeRates",
        "ScheduleV2",
        "cron(0 */6 ? * MON-FRI *)",
        "Europe/Paris",
        "sync_exchange_rates",
        "SchedulerFunction",
        True,
        [datetime(2026, 6, 2, 4, 0, tzinfo=UTC)],
        None,
    )
    html = schedules_part([row], NOW)
    assert "2026-06-02 04:00:00 UTC" in html
    assert "06:00 CEST" in html
    assert 'data-post="/dashboard/schedules/ExchangeRates/fire"' in html


def test_invocations_are_summarised_per_function() -> None:
    runs = [
        Invocation("WorkerFunction", "r1", True, 900.0, True, 10, 2),
        Invocation("WorkerFunction", "r2", False, 20.0, True, 5, 0),
        Invocation("WorkerFunction", "r3", False, 40.0, False, 1, 0, "boom"),
    ]
    [summary] = summarize(runs)
    assert (summary.invocations, summary.cold, summary.errors) == (3, 1, 1)
    assert (summary.records_in, summary.failures_out) == (16, 2)
    assert (summary.median_ms, summary.max_ms) == (40.0, 900.0)
    html = invocations_part(runs, [summary])
    assert html.count('data-temperature="warm"') == 2


def _sample(at: float, visible: int, in_flight: int = 0, delayed: int = 0) -> Sample:
    return Sample(at, QueueCounts("q", visible, in_flight, delayed))


def test_the_chart_draws_one_line_per_count_over_the_window() -> None:
    samples = [_sample(1000.0 + i * 2, visible=i, in_flight=1) for i in range(10)]

    svg = queue_chart(samples, now=1020.0, window_s=600, title="JobsQueue")

    assert svg.count("<polyline") == 3
    assert 'data-samples="10"' in svg
    assert ">10</text>" in svg  # the peak (9) rounds up to 10
    assert "-1 min" in svg  # a young chart spans its first minute


def test_the_chart_forgets_samples_older_than_its_window() -> None:
    samples = [_sample(0.0, 50), _sample(590.0, 1), _sample(600.0, 2)]
    svg = queue_chart(samples, now=700.0, window_s=600, title="q")
    assert 'data-samples="2"' in svg
    assert ">2</text>" in svg


def test_an_empty_chart_has_axes_and_no_line() -> None:
    svg = queue_chart([], now=0.0, window_s=600, title="q")
    assert "<polyline" not in svg and "<svg" in svg


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (120, 200)]
)
def test_the_y_axis_tops_out_at_a_round_number(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.4, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (200, "3 min 20 s"),
        (7500, "2 h 5 min"),
        (90000, "1 d 1 h"),
    ],
)
def test_spans_read_as_people_say_them(seconds: float | None, text: str) -> None:
    assert span_text(seconds) == text


def test_a_queue_card_shows_its_counts_and_oldest_age() -> None:
    card = QueueCard(
        "JobsQueue", "http://q", QueueCounts("http://q", 3, 2, 1), 75.0, "why", [_sample(0, 3)]
    )
    html = queues_part([card], now=10.0, window_s=600)
    for stat, value in (("visible", "3"), ("in_flight", "2"), ("delayed", "1")):
        assert f'data-stat="{stat}">{value}<' in html
    assert 'data-stat="oldest" title="why">1 min 15 s<' in html


def test_a_jobs_page_shows_its_progress_and_a_cancel_request() -> None:
    job = _job(
        status=JobStatus.RUNNING,
        progress=0.25,
        progress_note=EVIL,
        cancel_requested_at=NOW - timedelta(seconds=2),
    )
    html = job_part(job, "j1", [], NOW)
    assert '<span data-cell="progress">25% · &lt;script&gt;' in html
    assert 'data-cell="cancel-requested"><time datetime="2026-06-02T07:59:58+00:00"' in html
    assert EVIL not in html


def test_a_jobs_page_shows_its_webhook_deliveries_attempts_and_last_response() -> None:
    job = _job(callback_url="https://hooks.example.com/in")
    retrying = _job(
        job_id="w1",
        task="offpath.webhook",
        status=JobStatus.FAILED,
        attempts=2,
        result=None,
        last_error=JobError("ReceiverFailed", "receiver answered HTTP 503"),
    )
    sent = _job(job_id="w1", task="offpath.webhook", attempts=3, result={"status_code": 204})

    html = job_part(job, "j1", [], NOW, [retrying])
    assert "Webhook to <code>https://hooks.example.com/in</code>" in html
    assert "<td class=num>2</td><td>receiver answered HTTP 503</td>" in html
    assert "<td class=num>3</td><td>204</td>" in job_part(job, "j1", [], NOW, [sent])
    assert "No delivery yet" in job_part(job, "j1", [], NOW, [])
    assert "Webhook" not in job_part(_job(), "j1", [], NOW, [])


def test_the_pools_table_has_a_row_per_pool_with_its_counts_and_worker_runs() -> None:
    heavy = PoolResources("heavy", "http://q/Heavy", "http://q/HeavyDLQ", "HeavyWorkerFunction")
    bare = PoolResources("bare", "http://q/Bare", "", "")
    html = pools_part(
        [
            PoolRow(heavy, QueueCounts("http://q/Heavy", 3, 2, 1), QueueCounts("", 4, 0, 1), 7, 1),
            PoolRow(bare, None, None, 0, 0),
        ]
    )
    heavy_row = html.split('<tr data-pool="heavy">')[1].split("</tr>")[0]
    for stat, value in (("visible", 3), ("in_flight", 2), ("delayed", 1), ("dead", 5)):
        assert f'data-stat="{stat}">{value}<' in heavy_row
    assert 'data-stat="invocations">7<' in heavy_row and 'data-stat="errors">1<' in heavy_row
    assert "HeavyWorkerFunction" in heavy_row and "HeavyDLQ" in heavy_row
    assert '<a href="/?pool=heavy#dlq">heavy</a>' in heavy_row
    bare_row = html.split('<tr data-pool="bare">')[1].split("</tr>")[0]
    assert 'data-stat="visible">-<' in bare_row and 'data-stat="dead">-<' in bare_row
    assert pools_part([]) == ""
