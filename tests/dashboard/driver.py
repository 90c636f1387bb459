"""Drive the dashboard: ``offpath dev``'s emulator and control server, and Chromium.

Shared by the end-to-end tests and ``scripts/screenshots``. The browser is Debian's
``chromium`` (``scripts/browser`` installs it), driven by Playwright's sync API;
Playwright never downloads a browser of its own here.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Playwright

from offpath.local.control import ControlServer
from offpath.local.dashboard import Dashboard
from offpath.local.emulator import Emulator, EmulatorOptions
from tests import iam_calls
from tests.support import TEMPLATE

CHROMIUM = Path(os.environ.get("OFFPATH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING_CHROMIUM = (
    f"{CHROMIUM} not found: the dashboard's end-to-end tests drive Debian's chromium. "
    "Install it with scripts/browser (CI does), or point OFFPATH_CHROMIUM at one."
)


def launch(playwright: Playwright) -> Browser:
    """Headless Chromium from the system, never a downloaded one."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(MISSING_CHROMIUM)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@dataclass
class DevStack:
    """What ``offpath dev`` runs: the emulator, and the control server with the dashboard."""

    emulator: Emulator
    control: ControlServer
    log: deque[str]  # the emulator's log lines, as `offpath dev` prints them

    @property
    def dashboard_url(self) -> str:
        return self.control.dashboard_url

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """A request to the app's HttpApi; returns the decoded JSON answer."""
        return _request(f"{self.emulator.api_url}{path}", method, body)


@contextmanager
def dev_stack(outbox: Path, *, sample_every_s: float = 1.0) -> Iterator[DevStack]:
    """The app's template with real pollers and schedules, as ``offpath dev`` runs it."""
    log: deque[str] = deque(maxlen=200)
    emulator = Emulator(
        EmulatorOptions(
            template=TEMPLATE,
            api_port=0,
            background=True,
            extra_environment={
                "EXAMPLE_OUTBOX": str(outbox),
                **iam_calls.function_environment(),
            },
        ),
        log=log.append,
    )
    try:
        with _without_aws_environment():
            emulator.start()
        control = ControlServer(
            emulator, dashboard=Dashboard(emulator, sample_every_s=sample_every_s)
        ).start()
    except BaseException:
        emulator.stop()
        raise
    try:
        yield DevStack(emulator, control, log)
    finally:
        control.stop()
        emulator.stop()


@contextmanager
def _without_aws_environment() -> Iterator[None]:
    """The functions inherit ``AWS_ENDPOINT_URL*``: none of the developer's may leak in."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith(("AWS_", "OFFPATH_"))}
    try:
        yield
    finally:
        os.environ.update(saved)


def _request(url: str, method: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 -- loopback
        url,
        data=data,
        method=method,
        headers={"content-type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.loads(response.read())
