"""The newsletter's tasks, routes and schedule, on its own template, with offpath.testing.

``offpath_stack`` (offpath's pytest plugin) builds template.yaml on in-process moto
for each test; nothing runs until the test drains the queue or moves the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsletter.tasks import remind, send_issue

from offpath.store import JobStatus
from offpath.testing import OffpathStack


def test_subscribing_sends_the_confirmation_in_the_background(
    offpath_stack: OffpathStack,
) -> None:
    response = offpath_stack.request("POST", "/subscribers", json={"email": "ada@example.com"})

    assert response.status_code == 202, response.text
    assert response.json()["durable"] is False  # fire-and-forget: no record to poll
    [batch] = offpath_stack.drain()
    assert (batch.received, batch.deleted) == (1, 1)
    assert offpath_stack.dead_letters() == []


def test_an_issue_planned_for_later_is_sent_when_its_time_comes(
    offpath_stack: OffpathStack,
) -> None:
    send_at = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    planned = offpath_stack.request(
        "POST", "/issues", json={"issue_id": "june", "subject": "June", "send_at": send_at}
    ).json()
    job_id = planned["job_id"]

    assert planned["status"] == "scheduled"  # beyond 15 minutes: a one-off schedule
    offpath_stack.advance(3600)
    assert offpath_stack.drain() == []
    offpath_stack.advance(3601)
    offpath_stack.drain()

    record = offpath_stack.job(job_id)
    assert record.status is JobStatus.SUCCEEDED
    assert record.result == {"issue_id": "june", "subject": "June", "sent": True}
    # The job's own status endpoint, under the prefix the app chose.
    status = offpath_stack.request("GET", planned["status_url"]).json()
    assert status["status"] == "succeeded"


def test_planning_an_issue_twice_is_one_job(offpath_stack: OffpathStack) -> None:
    issue = {"issue_id": "july", "subject": "July"}
    first = offpath_stack.request("POST", "/issues", json=issue).json()
    again = offpath_stack.request("POST", "/issues", json=issue).json()

    assert again["job_id"] == first["job_id"] and again["duplicate"] is True
    assert len(offpath_stack.drain()) == 1


def test_a_reminder_waits_for_its_delay(offpath_stack: OffpathStack) -> None:
    response = offpath_stack.request("POST", "/subscribers/ada@example.com/reminder?in_minutes=5")
    job_id = response.json()["job_id"]

    assert offpath_stack.drain() == []
    offpath_stack.advance(301)
    offpath_stack.drain()

    assert offpath_stack.job(job_id).result == {"reminded": "ada@example.com"}


def test_the_nightly_purge_runs_once_a_night(offpath_stack: OffpathStack) -> None:
    fired = offpath_stack.advance(timedelta(days=2).total_seconds())
    offpath_stack.drain()

    assert [name for name, _ in fired] == ["NightlyPurge", "NightlyPurge"]
    runs = offpath_stack.functions["NewsletterCron"].invocations
    jobs = [offpath_stack.job(run.response["job_id"]) for run in runs]
    assert [(job.task, job.status, job.result) for job in jobs] == [
        ("purge_unconfirmed", JobStatus.SUCCEEDED, {"purged": 0})
    ] * 2


def test_bad_requests_are_precise_422s_and_send_nothing(offpath_stack: OffpathStack) -> None:
    naive = offpath_stack.request(
        "POST", "/issues", json={"issue_id": "x", "subject": "x", "send_at": "2030-01-01T00:00"}
    )
    too_far = offpath_stack.request(
        "POST", "/subscribers/ada@example.com/reminder?in_minutes=999999"
    )

    assert naive.status_code == 422
    assert naive.json()["detail"][0]["loc"] == ["body", "send_at"]
    assert too_far.status_code == 422
    assert too_far.json()["detail"][0]["loc"] == ["query", "in_minutes"]
    assert offpath_stack.depth(offpath_stack.queue_url) == {
        "visible": 0,
        "in_flight": 0,
        "delayed": 0,
    }


def test_tasks_are_plain_functions_too() -> None:
    assert remind("ada@example.com") == {"reminded": "ada@example.com"}
    assert send_issue.is_async and send_issue.options.durable
