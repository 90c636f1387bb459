"""The app's template.yaml running on the emulator, driven over HTTP like a user."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from offpath.cli import app
from offpath.local.emulator import Emulator
from tests.emulator.conftest import StartEmulator
from tests.support import EVENTS, TEMPLATE

pytestmark = pytest.mark.emulator


def _http(emulator: Emulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 -- loopback
        f"{emulator.api_url}{path}",
        data=data,
        method=method,
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_healthz_answers_through_the_local_http_api(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(TEMPLATE)
    status, body = _http(emulator, "GET", "/healthz")
    assert status == 200
    assert body["status"] == "ok"


def test_the_daily_cron_fires_at_08_00_utc_once_per_simulated_day(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator(TEMPLATE)
    now = emulator.clock.now()
    first_tick = now.replace(hour=8, minute=0, second=0, microsecond=0)
    if first_tick <= now:
        first_tick += timedelta(days=1)

    emulator.advance((first_tick + timedelta(days=2, minutes=1) - now).total_seconds())
    fired = [tick for name, tick in emulator.fire_due() if name == "DailyDigest"]

    assert fired == [first_tick + timedelta(days=d) for d in range(3)]
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in fired)
    assert emulator.fire_due() == [], "each tick fires once"


def test_offpath_invoke_runs_one_function_with_an_event_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "invoke",
            "WorkerFunction",
            "--event",
            str(EVENTS / "sqs.json"),
            "--template",
            str(TEMPLATE),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"batchItemFailures": []}


def test_an_invalid_template_is_reported_with_the_rule_name(tmp_path: Path) -> None:
    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("cron(0 8 * * ? *)", "cron(0 8 * * * *)"))
    result = CliRunner().invoke(app, ["schedules", "list", "--template", str(broken)])
    assert result.exit_code == 2
    assert "schedule 'DailyDigest'" in result.stderr
    assert "day-of-month and day-of-week" in result.stderr


def test_schedules_list_gives_the_next_fire_times() -> None:
    result = CliRunner().invoke(app, ["schedules", "list", "--json", "--template", str(TEMPLATE)])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    digest = rows["DailyDigest"]
    assert (digest["task"], digest["timezone"]) == ("send_daily_digest", None)
    times = [datetime.fromisoformat(t) for t in digest["next"]]
    assert len(times) == 3
    assert all((t.hour, t.minute, t.tzinfo) == (8, 0, UTC) for t in times)
    assert times[1] - times[0] == timedelta(days=1)


def test_after_the_clock_moves_a_new_delay_waits_its_own_time(
    start_emulator: StartEmulator,
) -> None:
    """The functions read the emulator's clock: a two-hour delay asked after three
    simulated days is due two hours later, not at once (it used to fire at once: the
    producer stamped the wall clock while the schedules ran three days ahead)."""
    emulator = start_emulator(TEMPLATE)
    emulator.advance(timedelta(days=3).total_seconds())
    emulator.fire_due()  # the template's own schedules catch up first
    emulator.drain()

    status, accepted = _http(
        emulator,
        "POST",
        "/jobs",
        {
            "task": "generate_report",
            "args": {"user_id": 5, "month": "2026-06"},
            "delay_seconds": 7200,
        },
    )
    assert status == 202 and accepted["status"] == "scheduled"
    _, record = _http(emulator, "GET", f"/jobs/{accepted['job_id']}")
    due_at = datetime.fromisoformat(record["due_at"])
    assert abs((due_at - emulator.clock.now()).total_seconds() - 7200) < 60

    assert [n for n, _ in emulator.fire_due() if n.startswith("job-")] == []
    emulator.advance(7200 - 60)
    assert [n for n, _ in emulator.fire_due() if n.startswith("job-")] == []
    emulator.advance(120)
    assert len([n for n, _ in emulator.fire_due() if n.startswith("job-")]) == 1
    emulator.drain()
    _, done = _http(emulator, "GET", f"/jobs/{accepted['job_id']}")
    assert done["status"] == "succeeded"
