"""A task module that imports a package its function's build does not install."""

from __future__ import annotations

import httpx

from offpath.tasks import task


@task
def fetch_status(url: str) -> int:
    return httpx.get(url).status_code
