"""Paths the tests share. The stack itself is offpath's public harness, offpath.testing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from offpath.testing import OffpathStack

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


def python_json(code: str, *args: str, env: dict[str, str]) -> Any:
    """Run ``code`` in a fresh interpreter at the project's root; its last line, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


EVENTS = ROOT / "events"

Stack = OffpathStack  # what the tests' `stack` fixture gives (tests/conftest.py)

__all__ = ["EVENTS", "ROOT", "TEMPLATE", "Stack"]
