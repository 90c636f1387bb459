"""`offpath dev` as a user starts it, and the commands that act on it: clock, schedules
list with one-offs, sam-env, --parameter-overrides and --env-vars."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from offpath.cli import app
from offpath.local.backends import free_port
from tests.emulator.conftest import TEST_BACKEND
from tests.support import ROOT

pytestmark = pytest.mark.emulator

TEMPLATE = f"""Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: from-the-default
  LocalEndpoint:
    Type: String
    Default: ""
Conditions:
  IsLocal: !Not [!Equals [!Ref LocalEndpoint, ""]]
Resources:
  Inbox:
    Type: AWS::SQS::Queue
  Group:
    Type: AWS::Scheduler::ScheduleGroup
  Probe:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {ROOT}
      Handler: tests.emulator.runtime_probe.handler
      Runtime: python3.12
      Environment:
        Variables:
          GREETING: !Ref Greeting
          GREETING_TWO: from-the-template
          INBOX_URL: !Ref Inbox
          AWS_ENDPOINT_URL: !If [IsLocal, !Ref LocalEndpoint, !Ref AWS::NoValue]
  Other:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {ROOT}
      Handler: tests.emulator.runtime_probe.handler
      Runtime: python3.12
"""


@pytest.fixture(scope="module")
def dev_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`offpath dev` in its own process, in a directory of its own, as a developer runs it."""
    tmp_path = tmp_path_factory.mktemp("dev")
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"Probe": {"GREETING_TWO": "from-the-file"}}))
    command = [
        str(Path(sys.executable).parent / "offpath"), "dev",
        "--template", str(template),
        "--port", str(free_port()),
        "--backend", TEST_BACKEND,
        "--parameter-overrides", "Greeting=from-the-overrides",
        "--env-vars", str(env_vars),
        "--fast",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    state = tmp_path / ".offpath" / "dev.json"
    deadline = time.monotonic() + 60
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not state.exists():
        process.kill()
        _, output = process.communicate(timeout=10)
        pytest.fail(f"offpath dev did not start:\n{output}")
    try:
        yield {"template": template, "state": json.loads(state.read_text()), "dir": tmp_path}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture
def running(dev_process: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The commands run where `offpath dev` runs: they find it by its state file."""
    monkeypatch.chdir(dev_process["dir"])
    return dev_process


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_the_clock_commands_move_and_report_the_running_emulators_time(
    running: dict[str, Any],
) -> None:
    before = json.loads(_cli("clock", "status").stdout)

    moved = json.loads(_cli("clock", "advance", "3d").stdout)

    assert before["offset_s"] < 1
    assert moved["offset_s"] == pytest.approx(before["offset_s"] + 259_200, abs=1)
    now = datetime.fromisoformat(moved["now"])
    assert abs((now - datetime.now(UTC)).total_seconds() - moved["offset_s"]) < 30
    refused = CliRunner().invoke(app, ["clock", "advance", "-1h"])
    assert refused.exit_code == 2 and "duration" in refused.stderr


def test_schedules_list_shows_the_one_off_schedules_of_the_running_emulator(
    running: dict[str, Any],
) -> None:
    endpoints = running["state"]["endpoints"]
    scheduler = boto3.client(
        "scheduler",
        endpoint_url=endpoints.get("AWS_ENDPOINT_URL_SCHEDULER") or running["state"]["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="123456789012",
        aws_secret_access_key="local",
    )
    # Two hours ahead of the emulator's clock (another test may have moved it).
    now = datetime.fromisoformat(json.loads(_cli("clock", "status").stdout)["now"])
    due = (now.astimezone(UTC) + timedelta(hours=2)).replace(microsecond=0, tzinfo=None)
    scheduler.create_schedule(
        Name="job-later",
        GroupName="offpath-Group",
        ScheduleExpression=f"at({due:%Y-%m-%dT%H:%M:%S})",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={
            "Arn": "arn:aws:sqs:us-east-1:123456789012:offpath-Inbox",
            "RoleArn": "arn:aws:iam::123456789012:role/local",
            "Input": json.dumps({"task": "generate_report", "args": {}}),
        },
    )

    rows = json.loads(_cli("schedules", "list", "--json", "-t", str(running["template"])).stdout)

    [one_off] = [r for r in rows if r["kind"] == "one-off"]
    assert one_off["name"] == "job-later"
    assert one_off["task"] == "generate_report"
    assert one_off["next"] == [f"{due:%Y-%m-%dT%H:%M:%S}Z"]
    assert one_off["after_completion"] == "DELETE"


def test_sam_env_writes_sams_env_vars_format_pointing_at_the_emulator(
    running: dict[str, Any],
) -> None:
    out = running["dir"] / "sam-env.json"

    result = _cli("sam-env", "-t", str(running["template"]), "-o", str(out))

    content = json.loads(out.read_text())
    # SAM's documented shape: {"<LogicalId>": {"NAME": "value", ...}, ...}, strings only.
    assert isinstance(content, dict) and set(content) == {"Probe", "Other"}
    assert all(
        isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())
        for v in content.values()
    )
    probe = content["Probe"]
    assert probe["GREETING"] == "from-the-overrides", "--parameter-overrides"
    assert probe["GREETING_TWO"] == "from-the-file", "--env-vars"
    assert probe["INBOX_URL"].startswith("http://host.docker.internal:")
    assert probe["INBOX_URL"].endswith("/offpath-Inbox")
    endpoint = probe.get("AWS_ENDPOINT_URL") or probe["AWS_ENDPOINT_URL_SQS"]
    assert endpoint.startswith("http://host.docker.internal:")
    assert "127.0.0.1" not in json.dumps(content)
    # Other declares no AWS_ENDPOINT_URL: sam local would drop it, and the command says so.
    assert "Other does not declare AWS_ENDPOINT_URL" in " ".join(result.stderr.split())
    assert "Probe does not declare" not in result.stderr
