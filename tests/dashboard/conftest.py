"""Dashboard fixtures: one ``offpath dev`` stack and one Chromium per session.

A missing Chromium fails these tests with the way to install it: CI installs it, so
a silent skip would only hide a broken setup.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright

from tests.dashboard.driver import CHROMIUM, MISSING_CHROMIUM, DevStack, dev_stack, launch

# A first invocation is a cold start of a Python process: seconds on a busy machine.
expect.set_options(timeout=60_000)


# Package-wide, not session-wide: Playwright's sync API keeps an event loop running on
# the main thread while it is open, which other tests' asyncio.run() would trip on.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


# Package-wide too: its pollers and sampler are threads that make AWS calls (and so
# draw botocore's retry jitter from `random`), which must not run on under other tests.
@pytest.fixture(scope="package")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """The app's template running with real pollers, and the dashboard on its control port."""
    with dev_stack(tmp_path_factory.mktemp("dev") / "outbox.jsonl") as stack:
        yield stack


@pytest.fixture
def page(browser: Browser, dev: DevStack) -> Iterator[Page]:
    """A fresh tab; any script error or CSP violation it logs fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    def on_error(error: Error) -> None:
        problems.append(str(error))

    tab.on("console", on_console)
    tab.on("pageerror", on_error)
    yield tab
    context.close()
    dashboard_log = [line for line in dev.log if line.startswith("dashboard:")]
    assert not problems, f"the page logged errors: {problems}; the dashboard's: {dashboard_log}"
