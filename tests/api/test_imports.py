"""Each function loads only what it needs (cold starts, and the worker's package size)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support import ROOT


def modules_after_import(module: str) -> set[str]:
    """``sys.modules`` of a fresh interpreter that imported ``module``."""
    return modules_after(f"import {module}")


def modules_after(code: str) -> set[str]:
    """``sys.modules`` of a fresh interpreter that ran ``code``."""
    code = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout))


@pytest.mark.slow
def test_the_api_handler_loads_no_worker_runtime_and_no_emulator() -> None:
    loaded = modules_after_import("functions.api.handler")

    assert "fastapi" in loaded
    assert "offpath.producer" in loaded
    # offpath.runtime is the shared wiring; it loads the worker only inside build_worker.
    assert {"offpath.worker", "offpath.cli"}.isdisjoint(loaded)
    assert "aws_lambda_powertools.utilities.batch" not in loaded
    assert not {m for m in loaded if m == "offpath.local" or m.startswith("offpath.local.")}
    assert "moto" not in loaded


@pytest.mark.slow
@pytest.mark.parametrize("module", ["functions.shared.tasks", "functions.worker.handler"])
def test_the_tasks_and_the_worker_load_no_web_framework(module: str) -> None:
    loaded = modules_after_import(module)

    assert module in loaded
    assert {"fastapi", "starlette", "mangum", "offpath.fastapi"}.isdisjoint(loaded)


@pytest.mark.slow
def test_reading_the_dev_state_loads_neither_the_emulator_nor_the_dashboard() -> None:
    # What `offpath status` and `offpath dlq` do to find a running `offpath dev`: read
    # its state file (here one that names a control server that is gone).
    loaded = modules_after(
        "import json, pathlib, tempfile\n"
        "from offpath.ops.target import TargetOptions, resolve_target\n"
        "from offpath.ops.errors import TargetNotFound\n"
        "state = pathlib.Path(tempfile.mkdtemp()) / 'dev.json'\n"
        "state.write_text(json.dumps({'api': '', 'endpoint': 'http://127.0.0.1:9',"
        " 'control': 'http://127.0.0.1:9'}))\n"
        "try:\n"
        "    resolve_target(TargetOptions(state_file=state), {})\n"
        "except TargetNotFound:\n"
        "    pass"
    )

    assert not {m for m in loaded if m == "offpath.local" or m.startswith("offpath.local.")}
    assert "moto" not in loaded
