"""A raw SQS consumer for the emulator tests: each body says how to behave.

``ok``, ``fail`` (reported in batchItemFailures), ``raise`` (the invocation
errors), ``crash-once:<id>`` (``os._exit`` the first time), ``hang-once:<id>``
(outlives the 2 s Timeout the first time), ``slow`` (0.4 s), ``null-failures``
(answers ``{"batchItemFailures": null}``). Every invocation appends one line to
``$CONSUMER_LOG``: its pid, the bodies it got and the event's size in bytes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def _once(marker: str) -> bool:
    """True the first time ``marker`` is seen across processes."""
    path = Path(os.environ["CONSUMER_LOG"]).with_name(f"marker-{marker}")
    try:
        path.touch(exist_ok=False)
    except FileExistsError:
        return False
    return True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bodies = [r["body"] for r in event["Records"]]
    start = time.time()
    failures = []
    for record in event["Records"]:
        body: str = record["body"]
        if body == "raise":
            raise RuntimeError("the function raised")
        if body.startswith("crash-once:") and _once(body):
            os._exit(3)
        if body.startswith("hang-once:") and _once(body):
            time.sleep(30)
        if body == "slow":
            time.sleep(0.4)
        if body == "fail":
            failures.append({"itemIdentifier": record["messageId"]})
    line = {
        "pid": os.getpid(),
        "bodies": [b if len(b) < 100 else f"<{len(b)} bytes>" for b in bodies],
        "bytes": len(json.dumps(event)),
        "start": start,
        "end": time.time(),
    }
    with open(os.environ["CONSUMER_LOG"], "a") as log:
        log.write(json.dumps(line) + "\n")
    if "null-failures" in bodies:
        return {"batchItemFailures": None}
    return {"batchItemFailures": failures}


def scheduled(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A schedule's target: raises when the event says ``"fail": true``."""
    with open(os.environ["CONSUMER_LOG"], "a") as log:
        log.write(json.dumps({"pid": os.getpid(), "event": event, "start": time.time()}) + "\n")
    if event.get("fail"):
        raise RuntimeError("the scheduled function failed")
    return {"ok": True}
