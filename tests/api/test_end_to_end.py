"""From the API to the worker and back: submit, run the queue, poll the status."""

from __future__ import annotations

from fastapi.testclient import TestClient
from functions.shared import services

from offpath.tasks import registry
from tests.support import Stack


def test_a_report_submitted_through_the_api_succeeds(client: TestClient, api: Stack) -> None:
    # GIVEN a report request the API accepted
    accepted = client.post("/reports", json={"user_id": 42, "month": "2026-06"})
    status_url = accepted.json()["status_url"]
    assert client.get(status_url).json()["status"] == "queued"

    # WHEN the worker runs on the queued messages
    api.drain(api.worker(registry))

    # THEN the status the client polls shows the result
    job = client.get(status_url).json()
    assert job["status"] == "succeeded"
    assert job["result"] == {"url": "https://reports.example.com/42/2026-06.pdf"}
    assert job["attempts"] == 1
    assert job["started_at"] is not None
    assert job["finished_at"] is not None
    assert job["last_error"] is None
    assert job["correlation_id"] == accepted.headers["x-correlation-id"]
    assert len(services.read("report")) == 1


def test_a_repeated_key_answers_with_the_jobs_current_status(
    client: TestClient, api: Stack
) -> None:
    submission = {"task": "charge_customer", "args": {"payment_id": "pay_9"}}
    key = {"Idempotency-Key": "charge-pay_9"}
    first = client.post("/jobs", json=submission, headers=key)
    api.drain(api.worker(registry))

    again = client.post("/jobs", json=submission, headers=key)

    assert again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]
    assert (again.json()["status"], again.json()["duplicate"]) == ("succeeded", True)
    assert api.calls.count("SendMessage") + api.calls.count("SendMessageBatch") == 1
    assert len(services.read("charge")) == 1


def test_a_failing_job_shows_its_last_error(client: TestClient, api: Stack) -> None:
    status_url = client.post("/jobs", json={"task": "always_fail"}).json()["status_url"]

    api.drain(api.worker(registry))
    failed = client.get(status_url).json()
    api.clock.advance(60)  # past the retry's backoff
    api.drain(api.worker(registry))
    dead = client.get(status_url).json()

    assert failed["status"] == "failed"
    assert failed["last_error"] == {
        "type": "RuntimeError",
        "message": "always_fail failed, as it always does",
    }
    assert (dead["status"], dead["attempts"]) == ("dead", 2)
