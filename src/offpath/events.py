"""Optional EventBridge events when jobs end: ``offpath.job.succeeded|dead|cancelled``.

For internal consumers (a rule that starts a workflow, a metric, an audit log), on
the account's default bus, when the template's ``JobEvents`` is ``true``
(``OFFPATH_EVENTS_BUS``). Each is published once, right after the write that made
the record final; best effort: a PutEvents that fails is logged and counted
(``JobEventsFailed``), never fails the job, and a worker that dies between the two
calls loses that one event. Webhooks are the durable channel.

The event::

    {"source": "offpath", "detail-type": "offpath.job.succeeded",
     "detail": {"job_id": "...", "task": "...", "status": "succeeded"}}
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

SOURCE = "offpath"
DETAIL_PREFIX = "offpath.job."


class JobEvents:
    """Publishes a job's end to an EventBridge bus (one PutEvents per job)."""

    def __init__(self, client: Any, bus: str = "default", logger: Any = None) -> None:
        self.client = client
        self.bus = bus
        self.logger = logger

    def publish(self, job_id: str, task: str, status: str) -> bool:
        """Put one event; False (logged) if EventBridge refused or failed."""
        entry = {
            "Source": SOURCE,
            "DetailType": DETAIL_PREFIX + str(status),
            "Detail": json.dumps({"job_id": job_id, "task": task, "status": str(status)}),
            "EventBusName": self.bus,
        }
        try:
            response = self.client.put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as exc:
            self._warn(job_id, str(exc))
            return False
        if response.get("FailedEntryCount"):
            failed = response.get("Entries", [{}])[0]
            self._warn(job_id, f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
            return False
        return True

    def _warn(self, job_id: str, reason: str) -> None:
        if self.logger is not None:
            self.logger.warning(
                "job event not published", extra={"job_id": job_id, "reason": reason[:256]}
            )
