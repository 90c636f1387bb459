"""What goes into each Lambda artifact: the Makefile's layout and the pinned requirements.

The Makefile installs infra/requirements-*.txt with `pip --no-deps`, so each file
must be a complete closure pinned to uv.lock, minus boto3/botocore (in the runtime).
The layout test runs the real make targets with pip stubbed out: offline, fast.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"

# Provided by the Lambda Python runtime; kept out of the artifacts.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "urllib3", "python-dateutil", "six"}
WEB_STACK = {"fastapi", "starlette", "mangum", "anyio"}

# The Lambda target: CPython 3.12 on x86_64 Linux.
LAMBDA_ENVIRONMENT = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "extra": "",
}


def read_requirements(path: Path) -> dict[str, str]:
    """name -> pinned version, following `-r` includes."""
    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            pins.update(read_requirements(path.parent / line[3:].strip()))
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{path.name}: {line} is not pinned"
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def locked_packages() -> dict[str, dict[str, Any]]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    return {canonicalize_name(p["name"]): p for p in lock["package"]}


def lambda_dependencies(package: dict[str, Any]) -> set[str]:
    """A locked package's dependencies that apply on the Lambda target."""
    names: set[str] = set()
    for dependency in package.get("dependencies", []):
        marker = dependency.get("marker")
        if marker is None or Marker(marker).evaluate(LAMBDA_ENVIRONMENT):
            names.add(canonicalize_name(dependency["name"]))
    return names


REQUIREMENT_FILES = {
    "requirements-lambda.txt": ("WorkerFunction", "SchedulerFunction"),
    "requirements-api.txt": ("ApiFunction",),
}


@pytest.mark.parametrize("filename", sorted(REQUIREMENT_FILES))
def test_requirements_are_a_closure_pinned_to_uv_lock(filename: str) -> None:
    pins = read_requirements(INFRA / filename)
    locked = locked_packages()
    assert {name: locked[name]["version"] for name in pins} == pins
    missing = {
        f"{name} needs {dependency}"
        for name in pins
        for dependency in lambda_dependencies(locked[name])
        if dependency not in pins and dependency not in RUNTIME_PROVIDED
    }
    assert missing == set()
    assert not pins.keys() & RUNTIME_PROVIDED


def test_requirements_hold_what_the_code_needs() -> None:
    core = read_requirements(INFRA / "requirements-lambda.txt")
    api = read_requirements(INFRA / "requirements-api.txt")
    needed = {"pydantic", "aws-lambda-powertools", "aws-xray-sdk"}
    assert needed <= core.keys()
    assert not core.keys() & WEB_STACK, "the worker and the scheduler must never get fastapi"
    assert api.keys() - core.keys() >= {"fastapi", "mangum"}


def test_makefile_has_a_target_per_makefile_function() -> None:
    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    functions = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and resource.get("Metadata", {}).get("BuildMethod") == "makefile"
    }
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^build-(\w+):", makefile, flags=re.MULTILINE))
    assert functions <= targets, "sam build runs `make build-<LogicalId>` for each"


# offpath's parts that never ship to a function, and those only some functions get.
DEVELOPER_ONLY = {"local", "ops", "testing", "cli.py", "devstate.py"}
WEB_ONLY = {"fastapi"}


@pytest.mark.parametrize(
    ("target", "own", "others", "web"),
    [
        ("build-ApiFunction", "api", {"worker", "scheduler"}, True),
        ("build-WorkerFunction", "worker", {"api", "scheduler"}, False),
        ("build-SchedulerFunction", "scheduler", {"api", "worker"}, False),
    ],
)
def test_artifact_layout(
    tmp_path: Path, target: str, own: str, others: set[str], web: bool
) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    artifacts = tmp_path / "artifact"
    build = subprocess.run(
        [make, "-s", "-C", str(ROOT), target, f"ARTIFACTS_DIR={artifacts}", "PIP_INSTALL=:"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (artifacts / "functions" / "__init__.py").is_file()
    assert (artifacts / "functions" / "shared" / "__init__.py").is_file()
    assert (artifacts / "functions" / own / "__init__.py").is_file()
    for other in others:
        assert not (artifacts / "functions" / other).exists()
    offpath = artifacts / "offpath"
    assert (offpath / "__init__.py").is_file()
    assert (offpath / "location" / "__init__.py").is_file(), "every function reads it"
    left_out = DEVELOPER_ONLY | (set() if web else WEB_ONLY)
    for part in left_out:
        assert not (offpath / part).exists(), f"{part} must not ship in {target}"
    assert (offpath / "fastapi").is_dir() == web
    shipped = sorted(p.relative_to(ROOT / "src") for p in (ROOT / "src" / "offpath").rglob("*.py"))
    expected = [p for p in shipped if p.parts[1] not in left_out and "__pycache__" not in p.parts]
    assert sorted(p.relative_to(artifacts) for p in offpath.rglob("*.py")) == expected
    # Byte-code ships only when made by the runtime's Python (3.12), never stale copies.
    pycs = list(artifacts.rglob("*.pyc"))
    if "no byte-code in the artifact" in build.stderr:
        assert pycs == []
    else:
        assert pycs
        assert all(".cpython-312." in p.name for p in pycs)
        for module in artifacts.rglob("*.py"):
            assert (module.parent / "__pycache__" / f"{module.stem}.cpython-312.pyc").is_file()


def test_samconfig_defaults() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))["default"]
    assert config["global"]["parameters"]["stack_name"] == "offpath"
    deploy = config["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is True
    # Else SAM copies the whole repo (virtualenvs included) before each make.
    assert config["build"]["parameters"]["build_in_source"] is True
