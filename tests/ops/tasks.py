"""Tasks the operator tests run on the emulator, loaded with OFFPATH_TASK_MODULES.

``ops_fails_until_fixed`` fails until the file named by ``OPS_FIXED_MARKER`` exists:
with one attempt it dies at once, then a test "deploys the fix" (creates the file)
and redrives it. Every successful run is one line in the outbox, so a test can
count runs across the function processes.
"""

from __future__ import annotations

import os
from pathlib import Path

from functions.shared import services

from offpath.tasks import task


@task(max_attempts=1, timeout_s=5)
def ops_fails_until_fixed(n: int) -> int:
    marker = os.environ.get("OPS_FIXED_MARKER", "")
    if not marker or not Path(marker).exists():
        raise RuntimeError("not fixed yet")
    services.record("ops_fixed", n=n)
    return n


@task(max_attempts=3, timeout_s=5)
def ops_noop(n: int) -> int:
    return n
