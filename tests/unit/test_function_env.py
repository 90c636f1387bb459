"""A function's variables, resolved in SAM's order (samcli/local/lambdafn/env_vars.py)."""

from __future__ import annotations

from typing import Any

import pytest

from offpath.local.function_env import ignored_names, resolve_environment, stringify

DECLARED = {"GREETING": "from-the-template", "LEVEL": "INFO"}


@pytest.mark.parametrize(
    ("shell", "env_vars", "expected"),
    [
        ({}, {}, "from-the-template"),
        ({"GREETING": "from-the-shell"}, {}, "from-the-shell"),
        ({"GREETING": "from-the-shell"}, {"Parameters": {"GREETING": "all"}}, "all"),
        (
            {"GREETING": "from-the-shell"},
            {"Parameters": {"GREETING": "all"}, "Fn": {"GREETING": "mine"}},
            "mine",
        ),
        ({}, {"Other": {"GREETING": "not mine"}}, "from-the-template"),
    ],
)
def test_the_file_then_the_shell_then_the_template(
    shell: dict[str, str], env_vars: dict[str, Any], expected: str
) -> None:
    resolved = resolve_environment("Fn", DECLARED, {**shell, "PATH": "/bin"}, env_vars)

    assert resolved == {"GREETING": expected, "LEVEL": "INFO"}, "declared names only"


def test_values_are_strings_as_sam_makes_them() -> None:
    assert [stringify(v) for v in (True, False, 3, None, [1], {"a": 1}, "x")] == [
        "true",
        "false",
        "3",
        "",
        "",
        "",
        "x",
    ]


def test_entries_no_declared_variable_takes_are_named() -> None:
    declared = {"Fn": {"GREETING": "x"}, "Other": {}}
    env_vars = {"Fn": {"GREETING": "y", "TYPO": "z"}, "Parameters": {"GREETING": "a", "NOPE": "b"}}

    assert ignored_names(declared, env_vars) == ["Fn.TYPO", "Parameters.NOPE"]
