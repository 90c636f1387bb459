"""GET /jobs/{id}?wait_s=N: one request that answers when the status changes."""

from __future__ import annotations

import threading

import functions.shared.tasks as example_tasks
from fastapi.testclient import TestClient

from offpath.fastapi.waiting import MAX_WAIT_S, wait_for_change
from offpath.producer import request
from offpath.store import JobStatus
from offpath.tasks import registry
from tests.support import Stack


def _gets(api: Stack) -> int:
    return api.calls.count("GetItem")


def test_a_finished_job_is_answered_at_once_whatever_the_wait(
    client: TestClient, api: Stack
) -> None:
    job = api.producer.enqueue(request(example_tasks.generate_report, 1, "2026-06"))
    api.drain(api.worker(registry))
    api.calls.clear()

    response = client.get(f"/jobs/{job.job_id}", params={"wait_s": MAX_WAIT_S})

    assert response.status_code == 200 and response.json()["status"] == "succeeded"
    assert _gets(api) == 1


def test_the_answer_comes_when_the_status_changes(client: TestClient, api: Stack) -> None:
    job = api.producer.enqueue(request(example_tasks.generate_report, 2, "2026-06"))
    started = threading.Event()

    def run_worker() -> None:
        started.wait(5)
        api.drain(api.worker(registry))

    worker = threading.Thread(target=run_worker)
    worker.start()
    started.set()
    response = client.get(f"/jobs/{job.job_id}", params={"wait_s": MAX_WAIT_S})
    worker.join()

    assert response.json()["status"] in ("running", "succeeded")


def test_a_wait_with_no_change_reads_on_a_widening_interval_then_answers(api: Stack) -> None:
    job = api.producer.enqueue(request(example_tasks.generate_report, 3, "2026-06"))
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    api.calls.clear()
    waited = wait_for_change(
        api.store, api.store.get(job.job_id), 10, clock=lambda: now[0], sleep=sleep
    )

    assert waited.status is JobStatus.QUEUED
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 0.25]
    assert _gets(api) == len(sleeps) + 1  # the first read, then one after each sleep


def test_wait_s_over_the_bound_is_a_422(client: TestClient) -> None:
    response = client.get("/jobs/abc", params={"wait_s": MAX_WAIT_S + 1})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "wait_s"]
