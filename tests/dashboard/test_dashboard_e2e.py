"""The dashboard in headless Chromium, against ``offpath dev`` running the app's template.

The emulator runs with real pollers and schedules (``background=True``), as
``offpath dev`` does. Nothing sleeps: each step waits for the page to show what it
should, with a timeout (see ``conftest.py``).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.dashboard.driver import DevStack

pytestmark = pytest.mark.emulator


def _accept_confirmations(page: Page) -> list[str]:
    """Accept every ``confirm()``; returns the questions asked, as they come."""
    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return questions


def test_an_enqueued_job_appears_and_turns_succeeded_without_a_reload(
    dev: DevStack, page: Page
) -> None:
    page.goto(dev.dashboard_url)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    page.evaluate("window.sameDocument = true")

    accepted = dev.api("POST", "/reports", {"user_id": 7, "month": "2026-06"})

    row = page.locator(f'#jobs tr[data-job-id="{accepted["job_id"]}"]')
    expect(row).to_have_attribute("data-status", "succeeded")
    assert page.evaluate("window.sameDocument") is True, "the page was reloaded"
    worker = page.locator('#invocations table.summary tr[data-function="WorkerFunction"]')
    expect(worker).to_have_count(1)

    row.get_by_role("link", name=accepted["job_id"]).click()
    expect(page.locator(".facts [data-cell=status]")).to_have_text("succeeded")
    expect(page.locator(".facts [data-cell=attempts]")).to_have_text("1")
    expect(page.locator("[data-cell=result]")).to_contain_text(
        "https://reports.example.com/7/2026-06.pdf"
    )
    expect(page.locator(".facts")).to_contain_text("correlation id")
    expect(page.locator(".facts")).to_contain_text("ran for")


def test_a_dead_job_is_redriven_from_the_dlq_view_and_runs_again(dev: DevStack, page: Page) -> None:
    page.goto(dev.dashboard_url)
    questions = _accept_confirmations(page)
    doomed = dev.api("POST", "/jobs", {"task": "reject", "args": {"reason": "redrive me"}})
    job_id = doomed["job_id"]

    dead = page.locator(f'#dlq tr[data-job-id="{job_id}"]')
    expect(dead).to_have_count(1)
    expect(dead).to_contain_text("redrive me")
    first_message = dead.get_attribute("data-message-id")
    dead.get_by_role("button", name="Redrive").click()

    expect(page.locator("#flash")).to_contain_text("1 job record(s) requeued")
    assert len(questions) == 1 and job_id in questions[0]
    expect(page.locator(f'#dlq tr[data-message-id="{first_message}"]')).to_have_count(0)
    # Only a worker running the job again can bury it again, as a new message.
    again = page.locator(f'#dlq tr[data-job-id="{job_id}"]')
    expect(again).to_have_count(1)
    assert again.get_attribute("data-message-id") != first_message
    expect(page.locator(f'#jobs tr[data-job-id="{job_id}"]')).to_have_attribute(
        "data-status", "dead"
    )


def test_redrive_all_sends_every_dead_job_back_to_run(dev: DevStack, page: Page) -> None:
    page.goto(dev.dashboard_url)
    questions = _accept_confirmations(page)
    job_ids = [
        dev.api("POST", "/jobs", {"task": "reject", "args": {"reason": f"all {n}"}})["job_id"]
        for n in range(2)
    ]
    rows = [page.locator(f'#dlq tr[data-job-id="{job_id}"]') for job_id in job_ids]
    for row in rows:
        expect(row).to_have_count(1)
    before = [row.get_attribute("data-message-id") for row in rows]

    page.locator("#dlq").get_by_role("button", name=re.compile(r"^Redrive all")).click()

    expect(page.locator("#flash")).to_contain_text("Redrove every message")
    assert "Redrive every message" in questions[0]
    for row, message_id in zip(rows, before, strict=True):
        expect(row.and_(page.locator(f':not([data-message-id="{message_id}"])'))).to_have_count(1)


def test_fire_now_on_a_schedule_enqueues_its_job_which_runs(dev: DevStack, page: Page) -> None:
    page.goto(dev.dashboard_url)
    digest = page.locator('#schedules tr[data-schedule="DailyDigest"]')
    expect(digest).to_contain_text("cron(0 8 * * ? *)")

    digest.get_by_role("button", name="Fire now").click()

    flash = page.locator("#flash")
    expect(flash).to_contain_text(re.compile(r"Fired DailyDigest: job \S+ enqueued"))
    job_id = re.search(r"job (\S+) enqueued", flash.inner_text())
    assert job_id is not None
    row = page.locator(f'#jobs tr[data-job-id="{job_id[1]}"]')
    expect(row).to_have_attribute("data-task", "send_daily_digest")
    expect(row).to_have_attribute("data-status", "succeeded")
    expect(digest).to_contain_text("ago")  # last fired


def test_filters_narrow_the_jobs_list_and_keep_refreshing(dev: DevStack, page: Page) -> None:
    done = dev.api("POST", "/reports", {"user_id": 8, "month": "2026-07"})["job_id"]
    doomed = dev.api("POST", "/jobs", {"task": "reject", "args": {}})["job_id"]
    page.goto(dev.dashboard_url)
    expect(page.locator(f'#jobs tr[data-job-id="{done}"]')).to_have_attribute(
        "data-status", "succeeded"
    )
    expect(page.locator(f'#jobs tr[data-job-id="{doomed}"]')).to_have_attribute(
        "data-status", "dead"
    )

    page.select_option("form[data-filters] select[name=status]", "dead")

    expect(page.locator(f'#jobs tr[data-job-id="{done}"]')).to_have_count(0)
    expect(page.locator(f'#jobs tr[data-job-id="{doomed}"]')).to_have_count(1)
    expect(page.locator("#jobs tr[data-status]:not([data-status=dead])")).to_have_count(0)
    assert "status=dead" in page.url
    page.select_option("form[data-filters] select[name=task]", "generate_report")
    expect(page.locator("#jobs tr[data-job-id]")).to_have_count(0)


def test_the_queue_chart_fills_from_server_side_samples(dev: DevStack, page: Page) -> None:
    page.goto(dev.dashboard_url)
    chart = page.locator('#queues [data-queue="offpath-JobsQueue"] svg.chart')
    page.wait_for_function(
        "() => Number(document.querySelector("
        "'[data-queue=offpath-JobsQueue] svg.chart').dataset.samples) >= 3"
    )
    expect(chart.locator("polyline")).to_have_count(3)
    dead_letters = page.locator('[data-queue="offpath-JobsDeadLetterQueue"] [data-stat=visible]')
    expect(dead_letters).to_have_text(re.compile(r"^\d+$"))


def test_purge_empties_the_dlq_after_a_confirmation(dev: DevStack, page: Page) -> None:
    page.goto(dev.dashboard_url)
    questions = _accept_confirmations(page)
    job_id = dev.api("POST", "/jobs", {"task": "reject", "args": {}})["job_id"]
    expect(page.locator(f'#dlq tr[data-job-id="{job_id}"]')).to_have_count(1)

    page.locator("#dlq").get_by_role("button", name="Purge").click()

    expect(page.locator("#flash")).to_contain_text("Purged the dead-letter queue")
    assert "deleted for good" in questions[0]
    expect(page.locator("#dlq tr[data-message-id]")).to_have_count(0)
    expect(page.locator("#dlq")).to_contain_text("The dead-letter queue is empty.")


def test_a_pools_page_acts_on_that_pools_dead_letters(dev: DevStack, page: Page) -> None:
    assert dev.emulator.clients is not None and dev.emulator.provisioned is not None
    heavy = dev.emulator.provisioned.location.pools["heavy"]
    # The shape the worker writes (offpath.deadletters): the reason and ids as attributes.
    dev.emulator.clients.sqs.send_message(
        QueueUrl=heavy.dlq_url,
        MessageBody="{}",
        MessageAttributes={
            "offpath.reason": {"DataType": "String", "StringValue": "permanent_error"},
            "offpath.job_id": {"DataType": "String", "StringValue": "heavy-dead-1"},
            "offpath.task": {"DataType": "String", "StringValue": "build_report_archive"},
        },
    )
    page.goto(dev.dashboard_url)
    questions = _accept_confirmations(page)
    page.locator('#queues tr[data-pool="heavy"]').get_by_role("link", name="heavy").click()
    expect(page).to_have_url(re.compile(r"\?pool=heavy"))
    expect(page.locator('#dlq tr[data-job-id="heavy-dead-1"]')).to_have_count(1)

    page.locator("#dlq").get_by_role("button", name="Purge").click()

    expect(page.locator("#flash")).to_contain_text("Purged the dead-letter queue")
    assert "deleted for good" in questions[0]
    expect(page.locator('#dlq tr[data-job-id="heavy-dead-1"]')).to_have_count(0)
    expect(page.locator("#dlq")).to_contain_text("HeavyDeadLetterQueue")
