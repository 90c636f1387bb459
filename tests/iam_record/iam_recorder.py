"""Each AWS call a template function makes: its IAM action and the resource it names.

Standard library and botocore only: the same module records in the test's process
and in the emulator's function processes, whose environment holds only what the
function's build installs (and boto3).

A call is recorded at botocore's ``before-parameter-build`` event, from the
``BUILTIN_HANDLERS`` list that every new botocore session registers, so every
client sees it (the function's own, Powertools', moto's). It belongs to the
function running: the one :func:`as_function` names, else ``AWS_LAMBDA_FUNCTION_NAME``
(offpath.testing's in-process runner and the emulator both set it to the logical id).
A call made while no function runs (the test's own, the emulator's pollers) is none
of a role's business and is not recorded.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from pathlib import Path
from types import ModuleType
from typing import Any

# (function logical id, IAM action, the resource name as called or "*", via: how)
Call = tuple[str, str, str, str]

# API operations whose IAM action has another name.
ACTION_OF = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
# Where each service names its resource in a call's parameters.
RESOURCE_PARAMS = ("QueueUrl", "TableName", "GroupName", "SecretId", "FunctionName")
POWERTOOLS_IDEMPOTENCY = "powertools-idempotency"
# A role passed to a service: its "function" is this and the role's ARN; ``via``, the
# function that passed it.
PASSED_ROLE = "role:"
# What EventBridge Scheduler does with a schedule's role, by its target's service.
TARGET_ACTIONS = {
    "sqs": "sqs:SendMessage",
    "lambda": "lambda:InvokeFunction",
    "sns": "sns:Publish",
    "events": "events:PutEvents",
}
_POWERTOOLS_IDEMPOTENCY_CODE = f"aws_lambda_powertools{os.sep}utilities{os.sep}idempotency"
# A dump directory for the function processes the tests start (the emulator's).
DUMP_DIRECTORY_ENV = "OFFPATH_IAM_CALLS"

_running: ContextVar[str | None] = ContextVar("offpath_iam_function", default=None)


@contextlib.contextmanager
def as_function(logical_id: str) -> Iterator[None]:
    """Calls made in the block (and in the threads it hands work to) are ``logical_id``'s."""
    token = _running.set(logical_id)
    try:
        yield
    finally:
        _running.reset(token)


def running_function() -> str | None:
    return _running.get() or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or None


def calls_of(function: str, params: dict[str, Any], operation: str, prefix: str) -> list[Call]:
    """What one API call needs of ``function``'s role (and of a role it passes)."""
    action = f"{prefix}:{ACTION_OF.get(operation, operation)}"
    name = next((str(params[p]) for p in RESOURCE_PARAMS if p in params), "*")
    via = POWERTOOLS_IDEMPOTENCY if _from_powertools_idempotency() else ""
    calls = [(function, action, name, via)]
    target = params.get("Target") or {}
    role_arn = target.get("RoleArn") if prefix == "scheduler" else None
    if role_arn:
        # A schedule's role is passed to EventBridge Scheduler, which then sends to
        # the target, and to its dead-letter queue, with that role.
        calls.append((function, "iam:PassRole", str(role_arn), ""))
        dead_letters = (target.get("DeadLetterConfig") or {}).get("Arn")
        for arn in (target.get("Arn"), dead_letters):
            if arn:
                calls.append((f"{PASSED_ROLE}{role_arn}", _target_action(arn), arn, function))
    return calls


def _target_action(arn: str) -> str:
    service = arn.split(":")[2]
    return TARGET_ACTIONS.get(service, f"{service}:*")


def _from_powertools_idempotency() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if _POWERTOOLS_IDEMPOTENCY_CODE in frame.f_code.co_filename:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


class Recorder:
    """The calls seen; each new one also goes to ``sink`` (a function process's file)."""

    def __init__(self, sink: Callable[[Call], None] | None = None) -> None:
        self.calls: set[Call] = set()
        self._sink = sink

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        function = running_function()
        if not function:
            return
        prefix = model.service_model.signing_name
        for call in calls_of(function, params, model.name, prefix):
            if call not in self.calls:
                self.calls.add(call)
                if self._sink is not None:
                    self._sink(call)

    def install(self, handlers: list[Any]) -> None:
        """Record on every botocore session made from now on (``BUILTIN_HANDLERS``)."""
        entry = ("before-parameter-build", self)
        if entry not in handlers:
            handlers.append(entry)


def write(path: Path, calls: Iterable[Call]) -> None:
    path.write_text("".join(json.dumps(list(c)) + "\n" for c in sorted(calls)))


def read(paths: Iterable[Path]) -> set[Call]:
    calls: set[Call] = set()
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                function, action, name, via = json.loads(line)
                calls.add((function, action, name, via))
    return calls


# ---------------------------------------------------------------- function processes


def record_this_process(directory: Path, function: str) -> None:
    """Record this process's calls into ``directory``, one line per new call.

    The file is opened now, at interpreter start: the emulator later makes the
    function's code (here, the repository) read-only, as Lambda's /var/task is,
    and a write through an open descriptor is the function's log, not a file it
    writes. Lines are written as calls happen, so a process the emulator kills
    (a timeout, its memory) has recorded what it did.
    """
    path = directory / f"fn-{function}-{os.getpid()}.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def sink(call: Call) -> None:
        os.write(fd, (json.dumps(list(call)) + "\n").encode())

    recorder = Recorder(sink)
    handlers = sys.modules.get("botocore.handlers")
    if handlers is not None:
        recorder.install(handlers.BUILTIN_HANDLERS)
    else:
        # botocore is imported later, if at all: importing it now would add its
        # import time to every function's init, which the emulator limits.
        sys.meta_path.insert(0, _AfterImport("botocore.handlers", recorder.install))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls ``then(module.BUILTIN_HANDLERS)`` once ``name`` has been imported."""

    def __init__(self, name: str, then: Callable[[list[Any]], None]) -> None:
        self.name = name
        self.then = then

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        execute = loader.exec_module
        then = self.then

        def exec_module(module: ModuleType) -> None:
            execute(module)
            then(module.BUILTIN_HANDLERS)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
