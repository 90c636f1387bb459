"""examples/: apps that use offpath as any user would, through its installed package only.

Their own tests run in CI against the built wheel (scripts/example); these check,
from here, what makes them external: what they import, and that their templates
are sound and hold jobs offpath can find.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

from offpath.location.layout import discover, read_template
from tests.support import ROOT

EXAMPLES = ROOT / "examples"
# What only this repository has: the emulator's internals, the example functions, our tests.
FORBIDDEN = ("offpath.local", "functions", "tests")
APPS = sorted(p.parent for p in EXAMPLES.glob("*/template.yaml"))


def imported_modules(source: str) -> Iterator[str]:
    """Every module a Python source imports (absolute imports only)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def forbidden_imports(source: str) -> list[str]:
    return [
        name
        for name in imported_modules(source)
        if any(name == f or name.startswith(f"{f}.") for f in FORBIDDEN)
    ]


def test_there_is_an_external_example() -> None:
    assert [app.name for app in APPS] == ["newsletter"]


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.rglob("*.py")), ids=lambda p: str(p.relative_to(EXAMPLES))
)
def test_nothing_under_examples_imports_what_only_this_repository_has(path: Path) -> None:
    assert forbidden_imports(path.read_text(encoding="utf-8")) == []


def test_the_import_check_finds_each_kind_of_import() -> None:
    source = (
        "import functions.shared.tasks\n"
        "from offpath.local import emulator\n"
        "from offpath import local\n"
        "from tests.support import Stack\n"
        "from offpath.testing import OffpathStack\n"
        "from . import sibling\n"
    )
    assert forbidden_imports(source) == [
        "functions.shared.tasks",
        "offpath.local",
        "offpath.local.emulator",
        "offpath.local",
        "tests.support",
        "tests.support.Stack",
    ]


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.name)
def test_each_example_is_an_app_of_its_own(app: Path) -> None:
    assert (app / "pyproject.toml").is_file()
    assert list((app / "tests").glob("test_*.py")), "it tests itself with offpath.testing"
    tests = "\n".join(p.read_text() for p in (app / "tests").glob("*.py"))
    assert "offpath_stack" in tests


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.name)
def test_each_example_template_lints_clean_and_holds_jobs_by_its_own_names(app: Path) -> None:
    matches = lint_file(app / "template.yaml", ManualArgs(include_checks=["I"]))
    assert [str(match) for match in matches] == []
    layout = discover(read_template(app / "template.yaml"))
    named = {layout.table, *layout.queues, *(p.function for p in layout.pools.values())}
    assert not {n for n in named if n.startswith("Jobs")}, "its own names, not offpath's"
