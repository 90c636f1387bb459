"""A template whose queues, table and functions have the user's own names still runs.

Every logical id offpath's template uses (JobsQueue, JobsTable, WorkerFunction...) is
renamed in a copy of template.yaml; ``offpath dev`` (the emulator and its control
server), the CLI (``status``, ``enqueue``, ``jobs show``, ``dlq list``) and the
dashboard must find the jobs by rule, as a user's own template would have them.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from offpath.cli import app
from offpath.devstate import read_state, write_state
from offpath.local.control import ControlServer
from offpath.local.dashboard import Dashboard, Request
from offpath.local.emulator import Emulator, EmulatorOptions
from tests.support import ROOT, TEMPLATE

pytestmark = pytest.mark.emulator

RENAMES = {
    "JobsQueue": "OrdersQueue",
    "JobsDeadLetterQueue": "OrdersLimbo",
    "JobsTable": "OrderBook",
    "JobsScheduleGroup": "OrderCalendar",
    "ApiFunction": "Storefront",
    "WorkerFunction": "Fulfilment",
    "SchedulerFunction": "Clockwork",
}


def renamed_template(directory: Path) -> Path:
    """template.yaml with every resource above renamed, code still read from the repo."""
    text = TEMPLATE.read_text(encoding="utf-8")
    for old, new in RENAMES.items():
        text = re.sub(rf"\b{old}(?=\b|Role\b|\.)", new, text)
    text = text.replace("CodeUri: .", f"CodeUri: {ROOT}")
    for old in RENAMES:
        assert not re.search(rf"\b{old}\b", text), f"{old} is still in the copy"
    path = directory / "template.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, ControlServer]]:
    root = tmp_path_factory.mktemp("renamed")
    emulator = Emulator(
        EmulatorOptions(
            template=renamed_template(root),
            api_port=0,
            background=False,
            stack_name="shop",
            extra_environment={"EXAMPLE_OUTBOX": str(root / "outbox.jsonl")},
        ),
        log=lambda line: None,
    )
    emulator.start()
    control = ControlServer(emulator).start()
    try:
        yield emulator, control
    finally:
        control.stop()
        emulator.stop()


@pytest.fixture
def project(
    renamed: tuple[Emulator, ControlServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Emulator:
    """A project directory where `offpath dev` runs the renamed template."""
    emulator, control = renamed
    monkeypatch.chdir(tmp_path)
    write_state(control.state())
    return emulator


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_offpath_dev_finds_the_renamed_resources(project: Emulator) -> None:
    state = read_state()

    assert state is not None and state.location is not None
    pool = state.location.pool()
    assert (pool.name, pool.queue_name, pool.dlq_name, pool.function) == (
        "default",
        "shop-OrdersQueue",
        "shop-OrdersLimbo",
        "Fulfilment",
    )
    assert state.location.table_name == "shop-OrderBook"
    assert state.location.schedule_group == "shop-OrderCalendar"
    assert state.environment["OFFPATH_TASK_MODULES"] == "functions.shared.tasks"


def test_the_api_the_cli_and_the_worker_run_jobs(project: Emulator) -> None:
    request = urllib.request.Request(  # noqa: S310 -- the emulator, on loopback
        f"{project.api_url}/reports",
        data=json.dumps({"user_id": 7, "month": "2026-06"}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        from_api = json.loads(response.read())["job_id"]
    # Task modules come from the template, as `offpath dev` records them.
    [from_cli] = cli("enqueue", "generate_report", "--args", '{"user_id": 8, "month": "2026-07"}')[
        "jobs"
    ]

    before = cli("status")
    project.drain()
    after = cli("status")

    assert before["queue"]["url"].endswith("/shop-OrdersQueue")
    assert before["queue"]["visible"] == 2 and after["queue"]["visible"] == 0
    for job_id in (from_api, from_cli["job_id"]):
        assert cli("jobs", "show", job_id)["status"] == "succeeded"


def test_dead_jobs_reach_the_renamed_dead_letter_queue(project: Emulator) -> None:
    [job] = cli("enqueue", "reject", "--args", '{"reason": "no such order"}')["jobs"]
    project.drain()

    dead = cli("dlq", "list")

    assert [(m["job_id"], m["reason"]) for m in dead] == [(job["job_id"], "permanent_error")]
    assert cli("status")["dead_letter_queue"]["url"].endswith("/shop-OrdersLimbo")


def test_the_dashboard_shows_the_renamed_queues_and_their_jobs(project: Emulator) -> None:
    [job] = cli("enqueue", "generate_report", "--args", '{"user_id": 9, "month": "2026-08"}')[
        "jobs"
    ]
    project.drain()
    dashboard = Dashboard(project)
    dashboard.sampler.sample()  # one reading of the queues, here and now

    page = dashboard.handle(Request("GET", "/", wants_json=True))
    job_page = dashboard.handle(Request("GET", f"/jobs/{job['job_id']}", wants_json=True))

    assert page is not None and job_page is not None
    parts = json.loads(page.body)["parts"]
    assert "shop-OrdersQueue" in parts["queues"] and "shop-OrdersLimbo" in parts["queues"]
    assert job["job_id"] in parts["jobs"]
    assert "succeeded" in json.loads(job_page.body)["parts"]["job"]
