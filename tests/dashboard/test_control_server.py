"""The control server in front of the dashboard: loopback only, its own origin only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.dashboard.driver import DevStack

pytestmark = pytest.mark.emulator


def _call(
    dev: DevStack, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(  # noqa: S310 -- loopback
        dev.control.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_page_is_html_with_a_strict_policy_and_its_parts_are_json(dev: DevStack) -> None:
    status, headers, body = _call(dev, "GET", "/", {"accept": "text/html"})
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert b'<script src="/static/dashboard.js" defer></script>' in body

    status, headers, body = _call(dev, "GET", "/", {"accept": "application/json"})
    assert status == 200
    assert set(json.loads(body)["parts"]) >= {"queues", "jobs", "dlq", "schedules", "invocations"}


@pytest.mark.parametrize("asset", ["dashboard.js", "dashboard.css"])
def test_the_static_assets_are_served_from_the_package(dev: DevStack, asset: str) -> None:
    status, headers, body = _call(dev, "GET", f"/static/{asset}", {})
    assert status == 200
    assert headers["content-type"].split(";")[0] in {"text/javascript", "text/css"}
    assert body


def test_a_foreign_host_is_refused_as_dns_rebinding_would_send_it(dev: DevStack) -> None:
    status, _, body = _call(dev, "GET", "/", {"host": "attacker.example:80"})
    assert status == 403
    assert "attacker.example" in json.loads(body)["error"]


def test_a_cross_origin_action_is_refused_and_changes_nothing(dev: DevStack) -> None:
    status, _, body = _call(
        dev,
        "POST",
        "/dashboard/dlq/purge",
        {"origin": "https://attacker.example", "content-type": "application/json"},
        {},
    )
    assert status == 403
    assert "cross-origin" in json.loads(body)["error"]


def test_an_unknown_schedule_is_a_404_naming_the_known_ones(dev: DevStack) -> None:
    status, _, body = _call(
        dev, "POST", "/dashboard/schedules/Nope/fire", {"content-type": "application/json"}, {}
    )
    assert status == 404
    assert "DailyDigest" in json.loads(body)["error"]


def test_a_redrive_needs_a_message_id_or_all(dev: DevStack) -> None:
    status, _, body = _call(
        dev, "POST", "/dashboard/dlq/redrive", {"content-type": "application/json"}, {}
    )
    assert status == 400
    assert "message_id" in json.loads(body)["error"]


def test_the_cli_control_api_still_answers_beside_the_dashboard(dev: DevStack) -> None:
    status, _, body = _call(dev, "GET", "/invocations", {})
    assert status == 200
    assert isinstance(json.loads(body), list)
