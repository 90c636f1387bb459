"""The chaos soak, CI-sized: every invariant holds, counted, never timed.

``OFFPATH_SOAK_JOBS`` sets the size (default 300); the full run is
``python -m bench.soak --jobs 10000`` (docs/security.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.soak.harness import run
from tests.soak.plan import plan

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

JOBS = int(os.environ.get("OFFPATH_SOAK_JOBS", "300"))


@pytest.mark.timeout(300)
def test_under_chaos_no_job_is_lost_or_doubled_and_every_poison_is_dead_lettered(
    tmp_path: Path,
) -> None:
    soak = plan(JOBS, seed=8)

    report = run(soak, tmp_path, timeout_s=240)

    assert report.violations() == [], report.render()
    assert report.succeeded == JOBS, report.render()
    assert report.poison_dead_lettered == len(soak.poison), report.render()
    # The faults were real: each kind fired, and the platform saw them.
    assert report.faults_fired == report.faults_planned, report.render()
    assert report.throttles.get("sqs", 0) > 0 and report.throttles.get("dynamodb", 0) > 0
    crashes = sum(report.faults_fired[f] for f in ("crash_before", "crash_after", "crash_window"))
    assert report.invocations_crashed == crashes, report.render()
    # Hangs end in a timeout; on a busy machine a cold start can too.
    assert report.invocations_timed_out >= report.faults_fired["hang"], report.render()
