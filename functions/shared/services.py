"""Simulated external services (email, payments, report storage).

Each call appends one line to an outbox, so tests and the local stack can see every
side effect, across processes. ``EXAMPLE_OUTBOX`` names the file (JSON lines);
without it, as on Lambda, the outbox is this process's memory.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_memory: list[dict[str, Any]] = []


def _path() -> Path | None:
    value = os.environ.get("EXAMPLE_OUTBOX")
    return Path(value) if value else None


def record(kind: str, **data: Any) -> None:
    """Record one side effect."""
    entry = {"kind": kind, **data}
    path = _path()
    if path is None:
        with _lock:
            _memory.append(entry)
        return
    line = json.dumps(entry, separators=(",", ":")) + "\n"
    # One O_APPEND write per line: concurrent processes never interleave lines.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read(kind: str | None = None) -> list[dict[str, Any]]:
    """Every recorded side effect, oldest first (optionally of one kind)."""
    path = _path()
    if path is None:
        with _lock:
            entries = list(_memory)
    elif path.exists():
        entries = [json.loads(line) for line in path.read_text().splitlines() if line]
    else:
        entries = []
    return [e for e in entries if kind is None or e["kind"] == kind]


def clear() -> None:
    path = _path()
    with _lock:
        _memory.clear()
    if path is not None and path.exists():
        path.unlink()
