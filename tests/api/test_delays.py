"""POST /jobs with long delays and run_at, and DELETE /jobs/{id}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from offpath.local.schedules import list_one_offs
from tests.support import Stack

REPORT = {"task": "generate_report", "args": {"user_id": 3, "month": "2026-08"}}


def _one_offs(api: Stack) -> list[str]:
    groups = list(api.provisioned.topology.schedule_groups.values())
    return [o.name for o in list_one_offs(api.clients.scheduler, groups)]


def test_a_two_hour_delay_is_a_scheduled_job_with_a_one_off_schedule(
    api: Stack, client: TestClient
) -> None:
    response = client.post("/jobs", json={**REPORT, "delay_seconds": 7200})

    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "scheduled"
    job = client.get(accepted["status_url"]).json()
    assert job["status"] == "scheduled"
    due = datetime.fromisoformat(job["due_at"])
    assert abs((due - datetime.now(UTC) - timedelta(hours=2)).total_seconds()) < 60
    assert _one_offs(api) == [f"job-{accepted['job_id']}"]
    assert api.depth(api.queue_url) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_run_at_within_fifteen_minutes_is_an_sqs_delay(api: Stack, client: TestClient) -> None:
    run_at = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    response = client.post("/jobs", json={**REPORT, "run_at": run_at})

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert _one_offs(api) == []
    assert 595 <= api.calls.params("SendMessage")[0]["DelaySeconds"] <= 600


def test_delete_cancels_a_scheduled_job_and_its_schedule(api: Stack, client: TestClient) -> None:
    job_id = client.post("/jobs", json={**REPORT, "delay_seconds": 3600}).json()["job_id"]

    response = client.delete(f"/jobs/{job_id}")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert _one_offs(api) == []
    assert client.delete(f"/jobs/{job_id}").status_code == 409
    assert client.delete("/jobs/no-such-job").status_code == 404


def test_bad_delays_are_precise_422s(client: TestClient) -> None:
    both = client.post(
        "/jobs", json={**REPORT, "delay_seconds": 5, "run_at": "2030-01-01T00:00:00Z"}
    )
    naive = client.post("/jobs", json={**REPORT, "run_at": "2030-01-01T00:00:00"})
    fire_and_forget = client.post(
        "/jobs",
        json={"task": "send_welcome_email", "args": {"email": "a@b.co"}, "delay_seconds": 3600},
    )

    assert both.status_code == naive.status_code == fire_and_forget.status_code == 422
    assert "not both" in both.text
    assert "timezone" in naive.text
    assert "fire-and-forget" in fire_and_forget.text
