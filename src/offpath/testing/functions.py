"""The template's functions, run in the test's own process, as Lambda would run them.

A function's handler (``Handler: package.module.function``) is imported from its
``CodeUri``; each invocation sees the function's own environment (the template's
variables, resolved against the test stack) and a Lambda context, and reads the
test's clock as the platform's (:func:`offpath.invocation.now`). In-process on
purpose: the test's ``mock_aws`` then serves the handler's own boto3 clients, and a
breakpoint in a task stops the test.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from offpath.invocation import clock_offset
from offpath.local.context import LocalContext
from offpath.local.topology import FunctionSpec

# What Lambda sets in every execution environment, beside the function's variables.
LAMBDA_VARIABLES = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")


class InvocationError(Exception):
    """A function raised: what Lambda would report as the invocation's error.

    The original exception is the ``__cause__``; ``function`` names the function.
    """

    def __init__(self, function: str, error: BaseException) -> None:
        super().__init__(f"{function} raised {type(error).__name__}: {error}")
        self.function = function
        self.error = error


@dataclass
class Invocation:
    """One finished invocation, for a test to look at."""

    function: str
    event: Any
    response: Any = None
    error: BaseException | None = None


@dataclass
class FunctionRunner:
    """Runs one template function's handler in this process.

    Attributes:
        spec: the function as the template declares it.
        code_root: the directory its ``Handler`` is imported from.
        environment: its variables (the template's, resolved locally).
        clock_offset_s: how far the test's clock runs ahead of the wall clock.
    """

    spec: FunctionSpec
    code_root: str
    environment: Mapping[str, str]
    clock_offset_s: Callable[[], float]
    region: str = "us-east-1"
    invocations: list[Invocation] = field(default_factory=list)
    _handler: Callable[[Any, Any], Any] | None = None
    # What a container keeps between invocations beside its modules: its event loop
    # (Mangum serves each request on the thread's current loop) and the warning
    # filters its modules set at import (pytest resets the process's for each test).
    _loop: asyncio.AbstractEventLoop | None = None
    _filters: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def invoke(self, event: Any, *, clock_offset_s: float | None = None) -> Any:
        """Invoke the handler once with ``event``; its response.

        Raises:
            InvocationError: the handler raised (its exception is the cause).
        """
        record = Invocation(self.name, event)
        self.invocations.append(record)
        offset = self.clock_offset_s() if clock_offset_s is None else clock_offset_s
        context = LocalContext(
            function_name=self.name,
            timeout_s=self.spec.timeout_s,
            memory_limit_in_mb=self.spec.memory_mb,
            region=self.region,
        )
        with self._container(), clock_offset(offset):
            try:
                record.response = self._import()(event, context)
            except Exception as exc:  # the invocation's error, as Lambda reports it
                record.error = exc
                raise InvocationError(self.name, exc) from exc
        return record.response

    def stop(self) -> None:
        """Close what the container kept (its event loop)."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def _import(self) -> Callable[[Any, Any], Any]:
        """The handler, imported on first use (the cold start), kept after.

        The handler's own module is executed afresh for each runner, as a new
        execution environment would (what it imports is shared with the test).
        """
        if self._handler is None:
            if self.code_root not in sys.path:
                sys.path.insert(0, self.code_root)
            module_name, _, attribute = self.spec.handler.rpartition(".")
            sys.modules.pop(module_name, None)
            before = list(warnings.filters)
            module = importlib.import_module(module_name)
            self._filters = [f for f in warnings.filters if f not in before]
            self._handler = getattr(module, attribute)
        return self._handler

    @contextmanager
    def _container(self) -> Iterator[None]:
        """The function's environment, event loop and warning filters for the block."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        previous = _current_loop()
        asyncio.set_event_loop(self._loop)
        try:
            with self._environment(), warnings.catch_warnings():
                for action, message, category, module, lineno in reversed(self._filters):
                    warnings.filterwarnings(
                        action,
                        message.pattern if message else "",
                        category,
                        module.pattern if module else "",
                        lineno,
                    )
                yield
        finally:
            asyncio.set_event_loop(previous)

    @contextmanager
    def _environment(self) -> Iterator[None]:
        """The function's own variables for the block; the test's again after."""
        variables = {
            **self.environment,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }
        with patched_environ(variables):
            yield


def _current_loop() -> asyncio.AbstractEventLoop | None:
    """The thread's current event loop, without making one (as get_event_loop would).

    Read from the policy's thread-local, where set_event_loop keeps it: CPython
    has no public call that asks without side effects.
    """
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    loop = getattr(local, "_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


@contextmanager
def patched_environ(variables: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``variables`` set for the block, exactly as before after."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
