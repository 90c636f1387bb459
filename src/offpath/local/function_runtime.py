"""Each function's interpreter and packages: its template's runtime, with what its build installs.

On Lambda a function runs on its ``Runtime`` (``python3.12``) with its artifact's
packages and the runtime's boto3; a package its build leaves out fails to import
there, however present it is on the developer's machine. ``offpath dev`` does the
same: it finds that Python (:mod:`offpath.local.pythons`), and makes (once, cached
by what goes in: :mod:`offpath.local.toolenv`) an environment with

- the runtime's boto3 (the version the development environment has), and
- what the function's build installs: ``<CodeUri>/requirements.txt`` for SAM's
  default Python build; for ``BuildMethod: makefile``, the requirement files that
  ``make build-<LogicalId>`` passes to ``pip install -r`` (read from ``make -n``,
  with its ``--no-deps``), as ``sam build`` would run it.

The code itself is not copied: the function imports it live from ``CodeUri`` and
from the sources the Makefile copies into the artifact (``cp -R src/pkg ...``), so an
edit takes effect at the next cold start, and it is read-only, as ``/var/task`` is.

Where the runtime's Python or a package index is missing, the function says so
and runs on the shared development environment instead; ``--fast`` chooses that on
purpose (quicker to start, less faithful).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import itertools
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offpath.local.pythons import find_python, runtime_version
from offpath.local.toolenv import (
    EnvironmentBuildError,
    Install,
    cache_dir,
    cached_venv,
    ensure_venv,
    read_requirements,
)
from offpath.local.topology import FunctionSpec

MARKER = "/offpath-artifacts-dir"  # ARTIFACTS_DIR in the dry run, to find the copies


@dataclass(frozen=True)
class Runtime:
    """How one function's environments run."""

    python: str  # the interpreter
    paths: tuple[str, ...]  # the code, first on sys.path (and read-only)
    isolated: bool  # its own packages only (False: the shared development environment)
    description: str


@dataclass(frozen=True)
class BuildPlan:
    """What a function's build installs, and where its own code comes from."""

    requirements: tuple[str, ...]
    no_deps: bool
    code_paths: tuple[str, ...]


def resolve_runtime(
    spec: FunctionSpec, template_dir: Path, *, fast: bool, log: Callable[[str], None] = print
) -> Runtime:
    """The runtime of ``spec``: its own environment, else (saying why) the shared one."""
    code_root = str((template_dir / spec.code_uri).resolve())
    shared = Runtime(sys.executable, (code_root,), False, "shared environment")
    if fast:
        return Runtime(sys.executable, (code_root,), False, "shared environment (--fast)")
    version = runtime_version(spec.runtime)
    if version is None:
        log(f"{spec.logical_id}: runtime {spec.runtime} is not Python; shared environment")
        return shared
    python = find_python(version)
    if python is None:
        log(
            f"{spec.logical_id}: Python {version} (its runtime {spec.runtime}) not found on this "
            f"machine (pyenv install {version}, or uv python install {version}); it runs on "
            f"the shared environment (Python {sys.version_info[0]}.{sys.version_info[1]}, "
            "every development package): use --fast to choose that without this warning"
        )
        return shared
    try:
        plan = own_package(build_plan(spec, Path(code_root)))
        installs = [Install(runtime_packages(plan), no_deps=False)]
        if plan.requirements:
            installs.append(Install(plan.requirements, no_deps=plan.no_deps))
        venv = cached_venv(f"function-{version}", python, [i.stamp() for i in installs])
        interpreter = ensure_venv(venv, python, installs, log=log, compile_bytecode=True)
    except (EnvironmentBuildError, OSError) as exc:
        log(
            f"{spec.logical_id}: its own environment could not be made ({exc}); it runs on "
            "the shared environment (every development package): use --fast to choose that"
        )
        return shared
    paths = tuple(dict.fromkeys([code_root, *plan.code_paths]))
    return Runtime(str(interpreter), paths, True, f"Python {version}, its own packages")


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def own_package(plan: BuildPlan) -> BuildPlan:
    """A build that installs offpath gets the offpath running ``offpath dev``.

    A user's ``requirements.txt`` names ``offpath[fastapi]``, which their build takes
    from their package index. Locally it is the installed offpath itself (never a
    download of that name): its package is put on the function's path, and its
    dependencies, for the extras named, are installed as the build would.
    """
    kept: list[str] = []
    extras: set[str] | None = None
    for line in plan.requirements:
        found = _NAME.match(line)
        if found and found.group(1).lower().replace("_", "-") == "offpath":
            extras = {e.strip() for e in (found.group(2) or "").split(",") if e.strip()}
        else:
            kept.append(line)
    if extras is None:
        return plan
    import offpath

    package = Path(offpath.__file__).resolve().parent
    link_dir = cache_dir() / "packages" / hashlib.sha256(str(package).encode()).hexdigest()[:16]
    link = link_dir / "offpath"
    if not link.exists():
        link_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # made by another start meanwhile
            link.symlink_to(package, target_is_directory=True)
    for requirement in importlib.metadata.requires("offpath") or []:
        name, _, marker = requirement.partition(";")
        wanted = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if wanted is None or wanted.group(1) in extras:
            kept.append(name.strip())
    return BuildPlan(tuple(kept), False, (*plan.code_paths, str(link_dir)))


def runtime_packages(plan: BuildPlan) -> tuple[str, ...]:
    """What Lambda's Python runtime provides: boto3, at the development version."""
    named = {line.split("==")[0].split(">")[0].strip().lower() for line in plan.requirements}
    if "boto3" in named:
        return ()
    return (f"boto3=={importlib.metadata.version('boto3')}",)


def build_plan(spec: FunctionSpec, code_root: Path) -> BuildPlan:
    """What ``sam build`` would install for ``spec``, read from its build definition."""
    if spec.build_method == "makefile":
        return _makefile_plan(spec.logical_id, code_root)
    requirements = code_root / "requirements.txt"
    lines = tuple(read_requirements(requirements)) if requirements.exists() else ()
    return BuildPlan(lines, no_deps=False, code_paths=())


def _makefile_plan(logical_id: str, code_root: Path) -> BuildPlan:
    """``make -n build-<LogicalId>``: its ``pip install -r`` files and its copies.

    The dry run costs a second or more (the Makefile's own ``$(shell ...)``), so what
    it names is cached by the Makefile's content; the files it names are read afresh.
    """
    makefile = code_root / "Makefile"
    key = hashlib.sha256(
        f"{logical_id}\0{code_root}\0".encode() + makefile.read_bytes()
    ).hexdigest()[:24]
    cached = cache_dir() / "build-plans" / f"{key}.json"
    try:
        named = json.loads(cached.read_text())
    except (OSError, ValueError):
        named = _dry_run(logical_id, code_root)
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(named))
    requirements: list[str] = []
    for path in named["requirement_files"]:
        requirements += read_requirements(Path(path))
    return BuildPlan(tuple(requirements), bool(named["no_deps"]), tuple(named["code_paths"]))


def _dry_run(logical_id: str, code_root: Path) -> dict[str, Any]:
    try:
        done = subprocess.run(  # noqa: S603 -- make's dry run, fixed arguments
            ["make", "-n", "-s", f"build-{logical_id}", f"ARTIFACTS_DIR={MARKER}"],  # noqa: S607
            cwd=code_root,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentBuildError(f"make -n build-{logical_id}: {exc}") from exc
    if done.returncode != 0:
        raise EnvironmentBuildError(f"make -n build-{logical_id}: {done.stderr.strip()[-300:]}")
    requirement_files: list[str] = []
    no_deps = False
    code_paths: list[str] = []
    for line in done.stdout.splitlines():
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if "pip" in " ".join(words[:4]) and "install" in words:
            no_deps = no_deps or "--no-deps" in words
            for flag, value in itertools.pairwise(words):
                if flag in ("-r", "--requirement"):
                    requirement_files.append(str((code_root / value).resolve()))
        elif words[:1] == ["cp"] and len(words) >= 3 and words[-1].startswith(MARKER + "/"):
            root = _source_root(Path(words[-2]), words[-1][len(MARKER) + 1 :])
            if root is not None:
                code_paths.append(str(root))
    return {"requirement_files": requirement_files, "no_deps": no_deps, "code_paths": code_paths}


def _source_root(source: Path, relative: str) -> Path | None:
    """Where ``cp SRC ARTIFACTS_DIR/REL`` takes a top-level package from: SRC less REL."""
    parts = Path(relative).parts
    if not parts or source.parts[-len(parts) :] != parts:
        return None
    return Path(*source.parts[: -len(parts)]) if len(source.parts) > len(parts) else None
