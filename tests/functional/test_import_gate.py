"""The import gate: what each function's INIT loads, checked in a fresh interpreter.

Not a timing (those are ``python -m bench``'s): the modules whose import once cost
each cold start 70-220 ms must stay out of the path that does not use them. Every
function of template.yaml is checked, whatever it is called; its handler module
and its task modules are imported as Lambda's INIT and first invocation would.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.support import python_json

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
GLOBAL_ENV: dict[str, Any] = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
FUNCTIONS = sorted(
    k for k, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
)

# Never at INIT of any function, with tracing off.
NEVER = (
    "aws_xray_sdk",  # Powertools' Tracer imports it even when disabled
    "pydantic_settings",  # replaced by offpath.settings' own reading of the environment
    "boto3",  # clients come from botocore; boto3 adds s3transfer and resources
    "aws_lambda_powertools.utilities.idempotency",  # one task uses it, on first use
    "aws_lambda_powertools.utilities.batch",  # loads Powertools' parser models with pydantic
    "aws_lambda_powertools.utilities.data_classes",  # every event source's class
    "aws_lambda_powertools.utilities.parser",
    "snapshot_restore_py",  # SnapStart's hooks: only in a SnapStart INIT
)
# Never in a function that serves no HTTP route.
WEB = ("fastapi", "starlette", "mangum")
# Never at INIT of a queue's worker: it enqueues nothing until a job with a callback URL
# ends (a webhook's delivery builds a producer then), and never makes one-offs.
NOT_IN_WORKERS = (
    "offpath.producer",
    "offpath.oneoff",  # the Scheduler client's module: one-off schedules
    "offpath.callbacks",
    "offpath.webhooks",
    "offpath.events",
)

_PROBE = """\
import importlib, json, os, sys
importlib.import_module(sys.argv[1])
for module in filter(None, os.environ.get("OFFPATH_TASK_MODULES", "").split(",")):
    importlib.import_module(module.strip())  # what the first invocation loads
loaded = sorted(sys.modules)
from offpath.tasks import registry
models = sorted(t.name for t in registry if "args_model" in vars(t))  # built already
if sys.argv[2] == "trace":
    from offpath.tracing import job_tracer
    job_tracer().tracer  # what the first job's span builds
print(json.dumps({"init": loaded, "models": models, "traced": sorted(sys.modules)}))
"""


def _loaded(
    function: str, *, tracing_on: bool = False, snap_start: bool = False
) -> dict[str, list[str]]:
    handler = TEMPLATE["Resources"][function]["Properties"]["Handler"]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OFFPATH_", "POWERTOOLS_"))
    }
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        AWS_REGION="us-east-1",
        OFFPATH_TASK_MODULES=str(GLOBAL_ENV["OFFPATH_TASK_MODULES"]),
    )
    if tracing_on:  # as on Lambda with `Tracing: Active`
        env["LAMBDA_TASK_ROOT"] = str(ROOT)
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    if snap_start:  # as Lambda sets it when it makes a SnapStart snapshot
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
    module, trace = handler.rsplit(".", 1)[0], "trace" if tracing_on else ""
    result: dict[str, list[str]] = python_json(_PROBE, module, trace, env=env)
    return result


def _found(loaded: list[str], packages: tuple[str, ...]) -> set[str]:
    return {p for p in packages if p in loaded}


def _event_types(function: str) -> set[str]:
    events = TEMPLATE["Resources"][function]["Properties"].get("Events", {})
    return {e["Type"] for e in events.values()}


def _serves_http(function: str) -> bool:
    return bool(_event_types(function) & {"HttpApi", "Api"})


@pytest.mark.parametrize("function", FUNCTIONS)
def test_init_loads_nothing_its_path_does_not_use(function: str) -> None:
    probed = _loaded(function)
    loaded = probed["init"]

    assert _found(loaded, NEVER) == set()
    if not _serves_http(function):
        assert _found(loaded, WEB) == set(), "a function with no HTTP route loads no web stack"
    if _event_types(function) == {"SQS"}:
        assert _found(loaded, NOT_IN_WORKERS) == set(), "a worker's INIT enqueues nothing"
    # Each task's pydantic model is built when a job of it is first validated, not
    # when its module registers it.
    assert probed["models"] == [], "task argument models built at INIT"


def test_the_gate_sees_the_tracer_when_tracing_is_on() -> None:
    # GIVEN tracing on, as on Lambda; WHEN the handler is imported, the SDK still waits;
    # THEN the first job's tracer loads it: the module name above is the right one.
    function = next(f for f in FUNCTIONS if not _serves_http(f))
    loaded = _loaded(function, tracing_on=True)

    assert "aws_xray_sdk" not in loaded["init"]
    assert "aws_xray_sdk" in loaded["traced"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_snapstart_init_registers_the_restore_hooks(function: str) -> None:
    # The module name NEVER keeps out is the one a SnapStart INIT loads: every
    # function's handler registers offpath's hooks there (offpath.snapstart).
    assert "snapshot_restore_py" in _loaded(function, snap_start=True)["init"]
