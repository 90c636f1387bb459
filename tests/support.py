"""Paths the tests share. The stack itself is offpath's public harness, offpath.testing."""

from __future__ import annotations

from pathlib import Path

from offpath.testing import OffpathStack

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"

Stack = OffpathStack  # what the tests' `stack` fixture gives (tests/conftest.py)

__all__ = ["EVENTS", "ROOT", "TEMPLATE", "Stack"]
