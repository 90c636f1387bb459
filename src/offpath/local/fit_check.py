"""``offpath dev``'s check at start: every task fits its pool (:mod:`offpath.fit`).

The template's workers name their task modules (``OFFPATH_TASK_MODULES``); importing
them here registers the tasks, whose timeouts are then checked against the pools the
template declares, with its parameters resolved as the emulator resolves them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from offpath.errors import ConfigurationError
from offpath.fit import check, pool_limits
from offpath.location import LocationNotFound
from offpath.location.layout import discover, read_template, worker_environment
from offpath.runtime import import_task_modules
from offpath.settings import TASK_MODULES, parse_task_modules
from offpath.tasks import TaskRegistry, registry


def check_template_fit(
    template: Path, parameters: dict[str, Any] | None = None, tasks: TaskRegistry = registry
) -> str | None:
    """Raise :class:`~offpath.fit.Misfit` when a task of the template cannot fit its pool.

    A template without workers, or whose workers name no task modules, has nothing
    to check. Task modules that import only in their function's own environment
    (packages its build installs, not this one) cannot be checked here: the reason
    is returned, for the caller to say; the worker checks them at its init.
    """
    from offpath.local.topology import read_topology

    parsed = read_template(template)
    try:
        layout = discover(parsed)
    except LocationNotFound:
        return None
    modules = worker_environment(parsed).get(TASK_MODULES, "")
    if not modules:
        return None
    root = str(template.resolve().parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        import_task_modules(parse_task_modules(modules), tasks)
    except ConfigurationError as exc:
        return f"task timeouts not checked against the pools here: {exc}"
    topology = read_topology(template, parameters=parameters or {})
    check(tasks, pool_limits(layout, topology), default_pool=layout.default_pool)
    return None
