"""The newsletter runs under `offpath dev`, the installed CLI, as a developer runs it."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
OFFPATH = Path(sys.executable).parent / "offpath"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    """`offpath dev` on a free port, from a scratch directory; its API's URL."""
    output = tmp_path / "offpath-dev.log"
    with output.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 -- our own CLI, no shell
            [str(OFFPATH), "dev", "--template", str(TEMPLATE), "--port", "0"],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield _api_url(process, output)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _api_url(process: subprocess.Popen[bytes], output: Path, timeout_s: float = 120) -> str:
    """The URL `offpath dev` prints once everything is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(r"^API: (http://\S+)", output.read_text(), flags=re.MULTILINE)
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)  # start-up is a real process starting: nothing to drive
    raise AssertionError("offpath dev did not start:\n" + output.read_text())


def _call(method: str, url: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 -- loopback
        url, data=data, method=method, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.loads(response.read())


def test_an_issue_sent_through_offpath_dev_succeeds(api: str) -> None:
    job = _call("POST", f"{api}/issues", {"issue_id": "dev", "subject": "Hello"})

    deadline = time.monotonic() + 60
    status = job["status"]
    while status != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.2)  # the emulator's own pollers run the worker: real time, here
        status = _call("GET", f"{api}{job['status_url']}")["status"]

    assert status == "succeeded"
