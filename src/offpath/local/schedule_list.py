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
    return rows + [_one_off_row(one_off) for one_off in one_offs or []]


def _one_off_row(one_off: OneOff) -> dict[str, Any]:
    """A delayed job's one-time schedule, as ``offpath schedules list`` shows it."""
    try:
        task = json.loads(one_off.input).get("task")
    except (ValueError, AttributeError):
        task = None
    return {
        "name": one_off.name,
        "kind": "one-off",
        "expression": one_off.expression,
        "timezone": one_off.timezone,
        "task": task,
        "function": None,
        "target": one_off.target_arn,
        "enabled": True,
        "after_completion": "DELETE" if one_off.delete_after else "NONE",
        "next": [_iso(one_off.due_at)],
    }
