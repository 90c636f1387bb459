"""A function's environment variables, resolved as ``sam local`` resolves them.

For each variable the template declares, the value is, from highest priority
(SAM CLI's ``EnvironmentVariables.resolve``; ``sam local invoke --help``):

1. the ``--env-vars`` file: the function's own entry (by logical id), then its
   ``Parameters`` entry, which applies to every function;
2. the shell's environment, for a variable of the same name;
3. the template's value.

Variables the template does not declare are not passed, whatever the file or the
shell says: the function sees what it would see on Lambda. The file's format is
SAM's: ``{"<LogicalId>": {"NAME": "value"}, "Parameters": {"NAME": "value"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from offpath.errors import ConfigurationError

EnvVars = dict[str, dict[str, Any]]


class EnvVarsError(ConfigurationError):
    """An ``--env-vars`` file that is not in SAM's format."""


def load_env_vars(path: Path) -> EnvVars:
    """Read and check an ``--env-vars`` file (SAM's format).

    Raises:
        EnvVarsError: not JSON, or an entry that is not an object of variables.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EnvVarsError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvVarsError(f"{path}: expected an object of functions, got {type(data).__name__}")
    for name, values in data.items():
        # SAM: "Environment variables {} in incorrect format" for the same case.
        if not isinstance(values, dict):
            raise EnvVarsError(f"{path}: {name!r} must be an object of variables")
    return data


def stringify(value: Any) -> str:
    """A value as SAM passes it: booleans lower-case, lists, objects and null blank."""
    if isinstance(value, dict | list | tuple) or value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def resolve_environment(
    function: str,
    declared: Mapping[str, str],
    shell: Mapping[str, str],
    env_vars: EnvVars | None = None,
) -> dict[str, str]:
    """The declared variables of ``function`` with the file's and the shell's values."""
    overrides = {**(env_vars or {}).get("Parameters", {}), **(env_vars or {}).get(function, {})}
    resolved = {}
    for name, value in declared.items():
        chosen: Any = value
        if name in shell:
            chosen = shell[name]
        if name in overrides:
            chosen = overrides[name]
        resolved[name] = stringify(chosen)
    return resolved


def ignored_names(declared: Mapping[str, Mapping[str, str]], env_vars: EnvVars) -> list[str]:
    """``Function.NAME`` entries of the file that no declared variable takes (SAM drops them)."""
    ignored = []
    for function, values in env_vars.items():
        targets = list(declared) if function == "Parameters" else [function]
        for name in values:
            if not any(name in declared.get(t, {}) for t in targets):
                ignored.append(f"{function}.{name}")
    return ignored
