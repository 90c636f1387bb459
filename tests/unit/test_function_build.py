"""What a function's build installs, as offpath dev reads it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import offpath
from offpath.local.function_runtime import BuildPlan, build_plan, own_package
from offpath.local.topology import read_topology
from tests.support import ROOT, TEMPLATE


def test_a_build_that_installs_offpath_gets_the_running_offpath_and_its_dependencies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFPATH_CACHE_DIR", str(tmp_path))
    plan = BuildPlan(("offpath[fastapi]", "httpx==0.28.1"), no_deps=False, code_paths=())

    resolved = own_package(plan)

    names = {re.split(r"[\[<>=~!; ]", line)[0] for line in resolved.requirements}
    assert {"fastapi", "mangum", "pydantic", "aws-lambda-powertools", "httpx"} <= names
    assert not names & {"offpath", "moto", "typer"}, "never the name, nor another extra's"
    linked = Path(resolved.code_paths[-1]) / "offpath"
    assert linked.resolve() == Path(offpath.__file__).resolve().parent


def test_a_makefile_build_names_its_requirement_files_and_the_sources_it_copies() -> None:
    worker = read_topology(TEMPLATE).functions["WorkerFunction"]

    plan = build_plan(worker, ROOT)

    assert plan.no_deps
    assert any(line.startswith("aws-lambda-powertools==") for line in plan.requirements)
    assert not any(line.startswith(("fastapi", "boto3")) for line in plan.requirements)
    assert str(ROOT / "src") in plan.code_paths
