"""Deployment artifact of each function, zipped and unzipped, beside a minimal function's.

The artifacts are built as a deploy builds them, ``bash scripts/sam build``, into a
scratch directory (``.aws-sam`` is left alone); if the SAM CLI cannot be set up,
the Makefile's ``build-<Fn>`` targets, which ``sam build`` runs, are called
directly. Zipped sizes use deflate, as ``sam deploy`` does.

The minimal function is the one the cold-start benchmark compares with: its
handler file plus the third-party packages it needs that the Lambda runtime lacks.
For the API that is FastAPI and Mangum with their dependencies, taken from the same
build (``*.dist-info/RECORD``, plus the byte-code the build compiled for those files)
so versions, wheels and ``.pyc`` are the same; the worker's and scheduler's need only
boto3, which the runtime provides.
"""

from __future__ import annotations

import importlib.metadata
import operator
import os
import py_compile
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench import cold_start
from bench.report import Figure, Section

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("ApiFunction", "WorkerFunction", "SchedulerFunction")
MB = 1024 * 1024

# The minimal function's own code, and the packages it installs beside it.
MINIMAL = {
    "ApiFunction": (cold_start.API_MINIMAL, ("fastapi", "mangum")),
    "WorkerFunction": (cold_start.WORKER_MINIMAL, ()),
    "SchedulerFunction": (cold_start.SCHEDULER_MINIMAL, ()),
}

# Lambda's Python, for the dependencies' environment markers.
LAMBDA_PYTHON = (3, 12)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_PYTHON_MARKER = re.compile(r"python_version\s*(<=|>=|==|!=|<|>)\s*['\"](\d+)\.(\d+)['\"]")
_COMPARE = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def canonicalize_name(name: str) -> str:
    """PEP 503's normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def required_on_lambda(requirement: str) -> str | None:
    """The project a ``Requires-Dist`` line needs on Lambda, or None if it does not apply.

    A small reading of PEP 508 markers (the standard library has none): extras are
    never installed; ``python_version`` is compared with Lambda's; anything else is
    kept, which can only make the minimal function bigger.
    """
    name, _, marker = requirement.partition(";")
    if "extra" in marker:
        return None
    for op, major, minor in _PYTHON_MARKER.findall(marker):
        if not _COMPARE[op](LAMBDA_PYTHON, (int(major), int(minor))):
            return None
    found = _NAME.match(name)
    return canonicalize_name(found.group(1)) if found else None


@dataclass(frozen=True)
class Files:
    """Files of an artifact: archive name -> path on disk."""

    paths: dict[str, Path]

    @property
    def unzipped_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.paths.values())

    def zipped_bytes(self, scratch: Path) -> int:
        target = scratch / "artifact.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, path in sorted(self.paths.items()):
                archive.write(path, name)
        size = target.stat().st_size
        target.unlink()
        return size

    def largest(self, count: int = 4) -> list[tuple[str, int]]:
        """The biggest top-level entries (packages), by unzipped size."""
        sizes: Counter[str] = Counter()
        for name, path in self.paths.items():
            sizes[name.split("/", 1)[0]] += path.stat().st_size
        return sizes.most_common(count)


def artifact_files(directory: Path) -> Files:
    return Files(
        {str(p.relative_to(directory)): p for p in sorted(directory.rglob("*")) if p.is_file()}
    )


def minimal_files(function: str, built: Path, scratch: Path) -> Files:
    """The minimal function's artifact: its handler file and its packages' files.

    With the byte-code the build added to the same files: ``RECORD`` lists what pip
    installed, not what the Makefile compiled afterwards.
    """
    code, roots = MINIMAL[function]
    handler = scratch / f"{function}-minimal.py"
    handler.write_text(code)
    paths = {"handler.py": handler}
    if any(name.endswith(".pyc") for name in artifact_files(built).paths):
        # Compiled here, by this Python: a few hundred bytes off at most.
        handler_pyc = handler.with_suffix(".pyc")
        py_compile.compile(str(handler), cfile=str(handler_pyc), doraise=True)
        paths["__pycache__/handler.pyc"] = handler_pyc
    dists: dict[str, importlib.metadata.Distribution] = {
        canonicalize_name(d.metadata["Name"]): d
        for d in importlib.metadata.distributions(path=[str(built)])
    }
    for name in closure(roots, dists):
        for file in dists[name].files or []:
            located = Path(str(dists[name].locate_file(file)))
            if not located.is_file():  # bin/ scripts are removed by the Makefile
                continue
            paths[str(located.relative_to(built))] = located
            for compiled in _byte_code_of(located):
                paths[str(compiled.relative_to(built))] = compiled
    return Files(paths)


def _byte_code_of(source: Path) -> list[Path]:
    if source.suffix != ".py":
        return []
    return sorted((source.parent / "__pycache__").glob(f"{source.stem}.*.pyc"))


def closure(roots: Iterable[str], dists: Mapping[str, importlib.metadata.Distribution]) -> set[str]:
    """The installed distributions ``roots`` need on Lambda (boto3 & co. come with it)."""
    seen: set[str] = set()
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen or name not in dists:
            continue
        seen.add(name)
        for raw in dists[name].requires or []:
            needed = required_on_lambda(raw)
            if needed is not None:
                todo.append(needed)
    return seen


def build(build_dir: Path) -> str:
    """Build every function into ``build_dir/<Fn>``; returns how it was built."""
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    sam = subprocess.run(
        ["bash", "scripts/sam", "build", "--build-dir", str(build_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if sam.returncode == 0:
        return "bash scripts/sam build --build-dir <scratch>"
    python312 = _python312_bin()
    if python312:
        env["PATH"] = python312 + os.pathsep + env["PATH"]
    for function in FUNCTIONS:
        shutil.rmtree(build_dir / function, ignore_errors=True)
        subprocess.run(
            ["make", f"build-{function}", f"ARTIFACTS_DIR={build_dir / function}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=True,
        )
    reason = (sam.stderr.strip().splitlines() or ["?"])[-1]
    return f"make build-<Fn> (sam build failed: {reason})"


def _python312_bin() -> str | None:
    """pyenv's newest 3.12 bin directory, for the Makefile's pip."""
    try:
        pyenv_root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    found = sorted(Path(pyenv_root, "versions").glob("3.12.*/bin"))
    return str(found[-1]) if found else None


def run() -> Section:
    started = time.perf_counter()
    section = Section(
        title="5. Deployment artifacts",
        baseline="the cold-start benchmark's minimal function: its handler file + the "
        "packages it needs that the runtime lacks (API: fastapi, mangum and their "
        "dependencies from the same build; worker, scheduler: none, boto3 is in the runtime)",
    )
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        how = build(scratch / "build")
        for function in FUNCTIONS:
            built = scratch / "build" / function
            ours, minimal = artifact_files(built), minimal_files(function, built, scratch)
            # A baseline of one handler file makes a ratio of thousands that says nothing.
            packages = bool(MINIMAL[function][1])
            section.figures += [
                Figure(
                    f"{function} zipped",
                    ours.zipped_bytes(scratch) / MB,
                    minimal.zipped_bytes(scratch) / MB,
                    "MB",
                    3,
                    show_ratio=packages,
                ),
                Figure(
                    f"{function} unzipped",
                    ours.unzipped_bytes / MB,
                    minimal.unzipped_bytes / MB,
                    "MB",
                    3,
                    show_ratio=packages,
                ),
            ]
            largest = ", ".join(f"{name} {size / MB:.1f}" for name, size in ours.largest())
            sources, compiled = (
                sum(1 for name in ours.paths if name.endswith(suffix)) for suffix in (".py", ".pyc")
            )
            section.details.append(
                f"  {function}: {len(ours.paths)} files ({sources} .py, {compiled} .pyc); "
                f"largest (MB): {largest}"
            )
    section.notes += [
        f"built with {how}",
        "no ratio where the minimal function is its handler file alone (about 1 KB)",
        "Lambda's limits: 50 MB zipped for a direct upload, 250 MB unzipped",
        "MB = 2^20 bytes; zipped with deflate (zipfile's default level)",
    ]
    section.seconds = time.perf_counter() - started
    return section
