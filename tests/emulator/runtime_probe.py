"""Functions that report what their execution environment is, for the runtime tests.

The module's import sleeps ``PROBE_INIT_SLEEP_S`` seconds first: the init phase.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any

time.sleep(float(os.environ.get("PROBE_INIT_SLEEP_S", "0")))
IMPORTED_AT = time.monotonic()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    if action == "allocate":
        hoard = bytearray(int(event["mb"]) * 1024 * 1024)
        hoard[::4096] = b"x" * len(hoard[::4096])  # touch every page: resident
        return {"allocated_mb": len(hoard) // (1024 * 1024)}
    if action == "write":
        try:
            Path(event["path"]).write_text("written")
        except OSError as exc:
            return {"written": False, "error": str(exc)}
        return {"written": True}
    return {
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "executable": sys.executable,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "since_import_s": time.monotonic() - IMPORTED_AT,
        "environment": {k: v for k, v in os.environ.items() if k.startswith(("GREETING", "SHELL"))},
        "tz": os.environ.get("TZ"),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "has_pytest": _importable("pytest"),
    }


def _importable(name: str) -> bool:
    # Found on the path, not imported: importing pytest takes seconds on a busy machine,
    # longer than the probe's 2 s timeout.
    return importlib.util.find_spec(name) is not None
