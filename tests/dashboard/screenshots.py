"""Regenerate ``docs/screenshots/``: each view of the dashboard, on a busy ``offpath dev``.

Run by ``scripts/screenshots`` (``python -m tests.dashboard.screenshots DIR``). It
starts the app's template as ``offpath dev`` does, gives it a minute of work (reports,
delayed reports, retries, dead jobs, a schedule fired from the page), waits for the
page to show it, then saves one PNG per view. No sleeping: every step waits for
the page.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

from tests.dashboard.driver import DevStack, dev_stack, launch

VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
TIMEOUT_MS = 120_000
MAX_HEIGHT_PX = 640
MONTHS = [f"2026-{month:02d}" for month in range(1, 13)]


def _work(dev: DevStack, page: Page, wave: int) -> None:
    """One wave of jobs: reports, delayed reports and failing jobs."""
    for user_id in range(1, 9):
        dev.api("POST", "/reports", {"user_id": wave * 10 + user_id, "month": MONTHS[wave]})
    for user_id in range(3):
        dev.api(
            "POST",
            "/jobs",
            {
                "task": "generate_report",
                "args": {"user_id": 500 + wave * 10 + user_id, "month": MONTHS[wave]},
                "delay_seconds": 25,
            },
        )
    dev.api("POST", "/jobs", {"task": "always_fail", "args": {}})
    # Let each wave show on the chart before the next one starts.
    samples = page.locator('[data-queue="offpath-JobsQueue"] svg.chart')
    seen = int(samples.get_attribute("data-samples") or 0)
    page.wait_for_function(
        f"() => Number(document.querySelector('[data-queue=offpath-JobsQueue] svg.chart')"
        f".dataset.samples) >= {seen + 6}",
        timeout=TIMEOUT_MS,
    )


def _photograph(page: Page, selector: str, path: Path) -> None:
    """The element, cut at ``MAX_HEIGHT_PX`` (a long table's first rows tell enough)."""
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not on the page"
    scroll = page.evaluate("[window.scrollX, window.scrollY]")
    page.screenshot(
        path=path,
        full_page=True,
        clip={
            "x": box["x"] + scroll[0],
            "y": box["y"] + scroll[1],
            "width": box["width"],
            "height": min(box["height"], MAX_HEIGHT_PX),
        },
    )


def capture(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as scratch,
        dev_stack(Path(scratch) / "outbox.jsonl", sample_every_s=1.0) as dev,
        sync_playwright() as playwright,
    ):
        browser = launch(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        expect.set_options(timeout=TIMEOUT_MS)
        page.goto(dev.dashboard_url)
        expect(page.locator("#live")).to_have_attribute("data-state", "live")

        doomed = [
            dev.api("POST", "/jobs", {"task": "reject", "args": {"reason": reason}})["job_id"]
            for reason in ("unknown customer 4711", "invoice already sent")
        ]
        for wave in range(4):
            _work(dev, page, wave)
        page.locator('#schedules tr[data-schedule="DailyDigest"] button').click()
        expect(page.locator("#flash")).to_contain_text("Fired DailyDigest")

        expect(page.locator("#dlq tr[data-message-id]")).to_have_count(6)  # 2 rejects, 4 retried
        expect(page.locator("#jobs tr[data-status=queued]")).to_have_count(0)
        expect(page.locator("#jobs tr[data-status=failed]")).to_have_count(0)
        # The sticky header would cover the top of each section's picture; the CSP
        # allows a script to set a style (not markup to carry one).
        page.evaluate(
            "document.getElementById('flash').hidden = true;"
            "document.querySelector('header.top').style.position = 'static'"
        )

        shots = []
        for view in ("queues", "jobs", "dlq", "schedules", "invocations"):
            shots.append(out / f"{view}.png")
            _photograph(page, f"#{view}", shots[-1])
        shots.append(out / "overview.png")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=shots[-1])

        page.goto(f"{dev.dashboard_url}jobs/{doomed[0]}")
        expect(page.locator("#job [data-cell=status]")).to_have_text("dead")
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
        page.evaluate("document.querySelector('header.top').style.position = 'static'")
        shots.append(out / "job.png")
        _photograph(page, "#job", shots[-1])
        browser.close()
    return shots


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    for shot in capture(out):
        print(shot)


if __name__ == "__main__":
    main()
