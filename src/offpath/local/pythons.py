"""Finds a CPython of a given minor version on the developer's machine.

Lambda runs each function on its ``Runtime`` (``python3.12``); backends such as
LocalStack need their own. Looked for, in order: pyenv's versions, ``pythonX.Y`` on
``PATH``, then ``uv python find`` (never downloading one).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")


def runtime_version(runtime: str) -> str | None:
    """``"3.12"`` for ``"python3.12"``; None for a runtime that is not Python."""
    found = _RUNTIME.match(runtime or "")
    return f"{found.group(1)}.{found.group(2)}" if found else None


def _is_version(python: str, version: str) -> str | None:
    """The interpreter's real path if it runs and is ``version``, else None."""
    try:
        done = subprocess.run(  # noqa: S603 -- a candidate interpreter, fixed arguments
            [
                python,
                "-c",
                "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}', sys.executable)",
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = done.stdout.split(maxsplit=1)
    if done.returncode != 0 or len(parts) != 2 or parts[0] != version:
        return None
    return parts[1].strip()


def _candidates(version: str) -> list[str]:
    # pyenv's own interpreters first: its shim on PATH starts pyenv for each call.
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    found = sorted(
        (str(p) for p in Path(pyenv_root).glob(f"versions/{version}.*/bin/python{version}")),
        reverse=True,
    )
    found += [p for p in [shutil.which(f"python{version}")] if p]
    uv = shutil.which("uv")
    if uv:
        try:
            done = subprocess.run(  # noqa: S603 -- uv, fixed arguments
                [uv, "python", "find", version],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
                env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
            )
            if done.returncode == 0 and done.stdout.strip():
                found.append(done.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    return found


@cache
def find_python(version: str) -> str | None:
    """A CPython ``version`` (``"3.12"``) interpreter's path, or None if there is none."""
    for candidate in _candidates(version):
        real = _is_version(candidate, version)
        if real:
            return real
    return None
