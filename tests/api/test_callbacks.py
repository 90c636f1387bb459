"""POST /jobs with a callback_url: checked at the door, as the worker will send it."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.support import Stack

REPORT = {"task": "generate_report", "args": {"user_id": 42, "month": "2026-06"}}


@pytest.fixture
def aws_settings(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API as deployed: no loopback callbacks (only offpath dev allows them)."""
    monkeypatch.setenv("OFFPATH_WEBHOOK_ALLOW_LOOPBACK", "false")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://localhost/hooks", "loopback"),
        ("https://127.0.0.1/hooks", "loopback"),
        ("https://10.1.2.3/hooks", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("http://93.184.215.14/hooks", "https://"),
    ],
)
def test_a_callback_url_to_a_private_or_loopback_address_is_a_clear_422(
    aws_settings: None, client: TestClient, api: Stack, url: str, says: str
) -> None:
    response = client.post("/jobs", json={**REPORT, "callback_url": url})

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "callback_url"]
    assert says in error["msg"]
    assert error["type"] == "invalid_job_request"
    assert api.calls.count("SendMessage") == 0 and api.calls.dynamodb_writes() == 0


def test_a_fire_and_forget_task_cannot_have_a_callback(client: TestClient) -> None:
    response = client.post(
        "/jobs",
        json={
            "task": "send_welcome_email",
            "args": {"email": "a@b.co"},
            "callback_url": "http://127.0.0.1:9/hooks",
        },
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "callback_url"]
    assert "durable" in response.json()["detail"][0]["msg"]


def test_locally_a_loopback_callback_is_accepted_and_travels_with_the_job(
    client: TestClient, api: Stack
) -> None:
    url = "http://127.0.0.1:8999/hooks"
    response = client.post("/jobs", json={**REPORT, "callback_url": url})

    assert response.status_code == 202
    (sent,) = api.calls.params("SendMessage")
    assert json.loads(sent["MessageBody"])["callback_url"] == url
    assert api.store.get(response.json()["job_id"]).callback_url == url
