"""The newsletter's background work. Imported by the API (to enqueue) and the worker (to run).

Plain functions, sync or async, registered with offpath's ``@task``; the worker finds
them through ``OFFPATH_TASK_MODULES=newsletter.tasks`` (template.yaml, Globals).
This module never imports FastAPI: the worker loads it too.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from pydantic import Field

from offpath.retry import Backoff
from offpath.tasks import task

Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
IssueId = Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")]


@task(durable=False, timeout_s=10)
async def send_confirmation(email: Email) -> None:
    """Fire-and-forget, async: the confirmation email. A lost one is re-sent on request."""
    await asyncio.sleep(0)  # an email provider's async client would be awaited here


# 55 s: NewsletterWorker's 60 s Timeout, less the worker's margin (offpath dev checks it).
@task(max_attempts=5, backoff=Backoff(base_s=5, cap_s=300), timeout_s=55)
async def send_issue(issue_id: IssueId, subject: str) -> dict[str, object]:
    """Durable, async: send an issue to every subscriber, at the time it was planned for."""
    await asyncio.sleep(0)
    return {"issue_id": issue_id, "subject": subject, "sent": True}


@task(max_attempts=3, timeout_s=10)
def remind(email: Email) -> dict[str, str]:
    """Durable: remind someone who has not confirmed yet (enqueued with a delay)."""
    return {"reminded": email}


@task(max_attempts=3, timeout_s=30)
def purge_unconfirmed() -> dict[str, int]:
    """Run by the NightlyPurge schedule."""
    return {"purged": 0}
