"""Virtual environments that offpath creates and caches: backends and functions.

A tool that pins its own botocore (MiniStack, LocalStack) cannot share the
development environment, and a function must see only what its build installs.
Each environment is made once from a pinned requirements file, with ``uv`` when it
is on ``PATH`` (seconds) or ``venv`` and pip, and is reused while a stamp of its
inputs matches; a lock keeps two emulators starting at once from building it twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from offpath.errors import ConfigurationError

STAMP = ".offpath-stamp"


class EnvironmentBuildError(ConfigurationError):
    """A virtual environment could not be made (no interpreter, no package index...)."""


@dataclass(frozen=True)
class Install:
    """One install step: requirement lines, with or without their dependencies."""

    requirements: Sequence[str]
    no_deps: bool = False

    def stamp(self) -> str:
        return ("--no-deps " if self.no_deps else "") + "\n".join(self.requirements)


def stamp_of(python: str, requirements: Sequence[str]) -> str:
    """What an environment was made from: its interpreter and every requirement line."""
    digest = hashlib.sha256(python.encode())
    for line in requirements:
        digest.update(b"\0" + line.encode())
    return digest.hexdigest()


def cache_dir() -> Path:
    """Where offpath keeps what it builds: ``OFFPATH_CACHE_DIR``, else the user's cache.

    One place per user, not per checkout: every project, work tree and CI clone on
    a machine reuses an environment made from the same inputs.
    """
    configured = os.environ.get("OFFPATH_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "offpath"


def cached_venv(kind: str, python: str, requirements: Sequence[str]) -> Path:
    """The cache's place for an environment of ``kind`` made from these inputs."""
    return cache_dir() / "venvs" / f"{kind}-{stamp_of(python, requirements)[:16]}"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def is_current(venv: Path, stamp: str) -> bool:
    marker = venv / STAMP
    return venv_python(venv).exists() and marker.exists() and marker.read_text() == stamp


def ensure_venv(
    venv: Path,
    python: str,
    requirements: Sequence[str] | Sequence[Install],
    *,
    log: object = None,
    timeout_s: float = 900,
    compile_bytecode: bool = False,
) -> Path:
    """The environment at ``venv`` made by ``python`` with ``requirements`` (pip lines,
    or install steps run in order). Returns its interpreter. Made only when missing
    or made from other inputs.

    Raises:
        EnvironmentBuildError: the interpreter or the installer failed (its output
            says why: no network, no such version...).
    """
    installs = [r if isinstance(r, Install) else Install([r]) for r in requirements]
    if installs and not any(isinstance(r, Install) for r in requirements):
        installs = [Install([str(r) for r in requirements])]
    stamp = stamp_of(python, [i.stamp() for i in installs])
    if is_current(venv, stamp):
        return venv_python(venv)
    with _locked(venv):
        if is_current(venv, stamp):  # made by another process while we waited
            return venv_python(venv)
        if callable(log):
            count = sum(len(i.requirements) for i in installs)
            log(f"creating {venv} ({count} requirements, once)")
        shutil.rmtree(venv, ignore_errors=True)
        _run(_venv_command(venv, python), timeout_s)
        for index, install in enumerate(installs):
            listing = venv.with_name(f"{venv.name}.requirements-{index}.txt")
            listing.write_text("\n".join(install.requirements) + "\n")
            try:
                command = _install_command(venv, listing, install.no_deps, compile_bytecode)
                _run(command, timeout_s)
            finally:
                listing.unlink(missing_ok=True)
        (venv / STAMP).write_text(stamp)
    return venv_python(venv)


def _venv_command(venv: Path, python: str) -> list[str]:
    uv = shutil.which("uv")
    if uv:
        return [uv, "venv", "--quiet", "--python", python, str(venv)]
    return [python, "-m", "venv", str(venv)]


def _install_command(venv: Path, listing: Path, no_deps: bool, compile_bytecode: bool) -> list[str]:
    uv = shutil.which("uv")
    flags = ["--no-deps"] if no_deps else []
    target = str(venv_python(venv))
    if uv:
        flags += ["--compile-bytecode"] if compile_bytecode else []
        return [uv, "pip", "install", "-q", "--python", target, *flags, "-r", str(listing)]
    pip = [target, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    return [*pip, *flags, "-r", str(listing)]


def _run(command: list[str], timeout_s: float) -> None:
    try:
        done = subprocess.run(  # noqa: S603 -- uv, pip or venv, fixed arguments
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentBuildError(f"{command[0]}: {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise EnvironmentBuildError(f"{' '.join(command[:3])}: " + " / ".join(detail))


def read_requirements(path: Path) -> list[str]:
    """A requirements file's lines (comments and blanks dropped, ``-r`` followed)."""
    lines: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            lines += read_requirements(path.parent / line[3:].strip())
        else:
            lines.append(line)
    return lines
