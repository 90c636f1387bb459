"""Functions run as on Lambda: their runtime's Python, only their build's packages,
init apart from the invocation, MemorySize, a read-only /var/task, SAM's variables.

AWS behaviour each test pins (docs.aws.amazon.com/lambda/latest/dg/):
- lambda-runtime-environment.html: the init phase has its own 10 s, then runs again
  inside the invocation on the function's timeout; /var/task is read-only, /tmp not;
- python-handler.html / awslambdaric: an import failure is Runtime.ImportModuleError,
  "Unable to import module 'M': No module named 'X'";
- an invocation past MemorySize is killed (Runtime.OutOfMemory);
- sam local invoke: --env-vars over the shell over the template, declared names only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from offpath.local.emulator import Emulator, EmulatorOptions
from offpath.local.esm import InvocationFailed
from offpath.local.function_runtime import resolve_runtime
from offpath.local.lambda_env import FunctionConfig, FunctionPool
from offpath.local.pythons import find_python
from offpath.local.topology import read_topology
from tests.emulator.conftest import HERE, TEST_BACKEND, StartEmulator
from tests.support import EVENTS, ROOT, TEMPLATE

pytestmark = [
    pytest.mark.emulator,
    pytest.mark.skipif(find_python("3.12") is None, reason="needs Python 3.12 on the machine"),
]
RUNTIME = HERE / "runtime.yaml"


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One emulator of runtime.yaml for the tests that need no cold start of their own."""
    options = EmulatorOptions(
        template=RUNTIME,
        api_port=0,
        background=False,
        backend=TEST_BACKEND,
        extra_environment={"PROBE_INIT_SLEEP_S": "0"},
    )
    with Emulator(options, log=lambda line: None) as emulator:
        yield emulator


def test_a_function_runs_on_its_runtimes_python_with_only_its_own_packages(
    probe: Emulator,
) -> None:
    emulator = probe

    probe_answer = emulator.invoke("Probe", {})

    assert probe_answer["python"] == "3.12"
    assert emulator.runtimes["Probe"].isolated
    assert probe_answer["has_pytest"] is False, "a development package its build lacks"
    assert probe_answer["tz"] == ":UTC"
    assert probe_answer["task_root"] == str(ROOT)


def test_the_same_function_with_fast_runs_on_the_shared_environment(
    start_emulator: StartEmulator,
) -> None:
    emulator = start_emulator(RUNTIME, fast=True)

    probe = emulator.invoke("Probe", {})

    assert probe["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert probe["has_pytest"] is True
    assert not emulator.runtimes["Probe"].isolated


def test_a_task_importing_a_package_its_build_lacks_fails_as_on_lambda(
    start_emulator: StartEmulator,
) -> None:
    """The issue's case: httpx imported by a task module, present in the development
    environment, absent from WorkerFunction's build (infra/requirements-lambda.txt)."""
    modules = {"OFFPATH_TASK_MODULES": "functions.shared.tasks,tests.emulator.needs_httpx"}
    event = json.loads((EVENTS / "sqs.json").read_text())
    emulator = start_emulator(TEMPLATE, extra_environment=modules)

    with pytest.raises(InvocationFailed) as failed:
        emulator.invoke("WorkerFunction", event)

    # The worker imports its task modules on its first invocation and names the one
    # that failed; Lambda reports the handler's exception by its type and message.
    assert str(failed.value) == (
        "ConfigurationError: OFFPATH_TASK_MODULES names tests.emulator.needs_httpx, "
        "which cannot be imported: No module named 'httpx'"
    )
    shared = start_emulator(TEMPLATE, extra_environment=modules, fast=True)
    assert shared.invoke("WorkerFunction", event) == {"batchItemFailures": []}


def test_a_handler_module_importing_a_missing_package_is_a_runtime_import_module_error(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "handler.py").write_text("import httpx\n\ndef handler(event, context):\n    return 1\n")
    (app / "requirements.txt").write_text("")  # its build installs nothing
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fetch:\n"
        "    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: app\n"
        "      Handler: handler.handler\n      Runtime: python3.12\n"
    )
    emulator = start_emulator(template)

    for _ in range(2):  # every invocation reports it, and the environment starts afresh
        with pytest.raises(InvocationFailed) as failed:
            emulator.invoke("Fetch", {})
        assert str(failed.value) == (
            "Runtime.ImportModuleError: Unable to import module 'handler': No module named 'httpx'"
        )
    assert [i.cold for i in emulator.invocations] == [True, True]


def test_init_has_its_own_time_and_the_deadline_starts_with_the_invocation(
    start_emulator: StartEmulator,
) -> None:
    """The probe's import takes 2.5 s, more than its 2 s Timeout."""
    emulator = start_emulator(RUNTIME)

    probe = emulator.invoke("Probe", {})

    assert probe["remaining_ms"] > 1500, "the import did not eat the invocation's time"
    [invocation] = emulator.invocations
    assert invocation.cold and invocation.init_ms is not None and invocation.init_ms >= 2400


def test_an_init_past_its_limit_runs_again_inside_the_invocation(tmp_path: Path) -> None:
    """Lambda's suppressed init: a fresh environment, init on the function's Timeout."""
    config = FunctionConfig(
        name="Probe",
        handler="tests.emulator.runtime_probe.handler",
        code_root=str(ROOT),
        timeout_s=5,
        memory_mb=512,
        environment={"PROBE_INIT_SLEEP_S": "1.0"},
        init_timeout_s=0.5,
    )
    pool = FunctionPool(config)
    try:
        probe = pool.invoke({})
    finally:
        pool.stop()

    assert probe["remaining_ms"] < 4500, "the second init counted against the Timeout"
    assert probe["remaining_ms"] > 2500


def test_memory_past_memory_size_kills_the_invocation_and_the_next_one_is_cold(
    probe: Emulator,
) -> None:
    emulator = probe
    assert emulator.invoke("Probe", {"action": "allocate", "mb": 16}) == {"allocated_mb": 16}
    before = len(emulator.invocations)

    with pytest.raises(InvocationFailed, match=r"Runtime.OutOfMemory.*of 128 MB"):
        emulator.invoke("Probe", {"action": "allocate", "mb": 400})

    assert emulator.invoke("Probe", {})["python"] == "3.12"
    assert [i.cold for i in list(emulator.invocations)[before:]] == [False, True]


def test_the_code_is_read_only_and_tmp_is_not(probe: Emulator) -> None:
    emulator = probe
    inside = ROOT / "tests" / "emulator" / f"written-{uuid.uuid4().hex}.txt"

    refused = emulator.invoke("Probe", {"action": "write", "path": str(inside)})
    allowed = emulator.invoke("Probe", {"action": "write", "path": f"/tmp/{inside.name}"})

    assert refused == {"written": False, "error": f"[Errno 30] Read-only file system: '{inside}'"}
    assert not inside.exists()
    assert allowed == {"written": True}
    Path(f"/tmp/{inside.name}").unlink()


def test_variables_take_the_env_vars_file_then_the_shell_then_the_template(
    start_emulator: StartEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring of SAM's order (tests/unit/test_function_env.py has each level)."""
    monkeypatch.setenv("GREETING", "from-the-shell")
    monkeypatch.setenv("SHELL_ONLY", "not declared")
    env_vars = {"Parameters": {"GREETING": "all"}, "Probe": {"GREETING": "mine"}}

    shell = dict(os.environ)
    quick = {"PROBE_INIT_SLEEP_S": "0"}
    file_wins = start_emulator(
        RUNTIME, env_vars=env_vars, extra_environment=quick, fast=True, shell_environment=shell
    )
    shell_wins = start_emulator(
        RUNTIME, extra_environment=quick, fast=True, shell_environment=shell
    )
    no_shell = start_emulator(RUNTIME, extra_environment=quick, fast=True)

    assert file_wins.invoke("Probe", {})["environment"] == {"GREETING": "mine"}
    assert shell_wins.invoke("Probe", {})["environment"] == {"GREETING": "from-the-shell"}, (
        "the shell over the template; undeclared names never come through"
    )
    assert no_shell.invoke("Probe", {})["environment"] == {"GREETING": "from-the-template"}, (
        "an emulator given no shell reads none (the CLI gives its own)"
    )


def test_a_missing_runtime_python_is_said_and_the_shared_environment_runs_it(
    tmp_path: Path,
) -> None:
    spec = read_topology(RUNTIME).functions["Probe"]
    lines: list[str] = []

    runtime = resolve_runtime(
        dataclasses.replace(spec, runtime="python3.99"),
        RUNTIME.parent,
        fast=False,
        log=lines.append,
    )

    assert not runtime.isolated and runtime.python == sys.executable
    assert any("Python 3.99" in line and "not found" in line and "--fast" in line for line in lines)


def test_an_environment_that_cannot_be_made_is_said_and_the_shared_one_runs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFPATH_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "requirements.txt").write_text("this is not a requirement ==\n")
    spec = dataclasses.replace(read_topology(RUNTIME).functions["Probe"], code_uri=str(tmp_path))
    lines: list[str] = []

    runtime = resolve_runtime(spec, RUNTIME.parent, fast=False, log=lines.append)

    assert not runtime.isolated
    assert any("could not be made" in line for line in lines), lines


def test_an_unhandled_error_is_written_to_the_functions_log(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    """As Lambda's runtime logs it: ``[ERROR] Type: message``, then the traceback."""
    logs = tmp_path / "logs"
    emulator = start_emulator(function_logs=logs, fast=True)
    url = emulator.provisioned.queue_url("Inbox")  # type: ignore[union-attr]
    emulator.clients.sqs.send_message(QueueUrl=url, MessageBody="raise")  # type: ignore[union-attr]

    [result] = emulator.drain()

    assert result.error == "RuntimeError: the function raised"
    log = (logs / "Consumer.log").read_text()
    assert "[ERROR] RuntimeError: the function raised (RequestId: " in log
    assert "Traceback (most recent call last):" in log
    assert 'raise RuntimeError("the function raised")' in log
