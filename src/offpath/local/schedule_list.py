"""What ``offpath schedules list`` shows: the same fire times the emulator uses."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from offpath.local.schedules import OneOff, load_schedules
from offpath.local.topology import read_topology


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def list_schedules(
    template: Path, now: datetime, count: int = 3, one_offs: list[OneOff] | None = None
) -> list[dict[str, Any]]:
    """Every template schedule with its next ``count`` fire times (ISO 8601, UTC),
    then the one-off schedules of delayed jobs, read from EventBridge Scheduler."""
    topology = read_topology(template)
    rows = []
    for name, schedule in load_schedules(topology, now).items():
        task = None
        if schedule.spec.input:
            try:
                task = json.loads(schedule.spec.input).get("task")
            except ValueError:
                task = None
        rows.append(
            {
                "name": name,
                "kind": schedule.spec.kind,
                "expression": schedule.spec.expression,
                "timezone": schedule.spec.timezone,
                "task": task,
                "function": schedule.spec.function,
                "enabled": schedule.spec.enabled,
                "next": [
                    t.isoformat().replace("+00:00", "Z") for t in schedule.next_after(now, count)
                ],
            }
        )
    return rows
