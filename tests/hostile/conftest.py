"""Hypothesis profiles for the hostile tests (and schemathesis, which runs on it).

- ``ci`` (the default): a modest, derandomized run: the same examples every time,
  so CI never flakes on a search that happened to go further, and no deadline (a
  shared 2-core machine makes timing meaningless).
- ``deep``: a long randomized search, for a developer's machine::

      OFFPATH_HYPOTHESIS_PROFILE=deep .venv/bin/pytest tests/hostile

No example database is written: the tests run in fresh clones, and a failing
example is printed with ``@example`` code to pin it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The `stack` fixture is shared by every example of a test on purpose: moto's
# in-memory AWS costs a second to set up, and each example uses fresh ids.
_SHARED_FIXTURE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

settings.register_profile(
    "ci",
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=_SHARED_FIXTURE,
)
settings.register_profile(
    "deep",
    max_examples=5_000,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=_SHARED_FIXTURE,
)
settings.load_profile(os.environ.get("OFFPATH_HYPOTHESIS_PROFILE", "ci"))
