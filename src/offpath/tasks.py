"""Tasks: plain functions registered with their retry and delivery options.

Example:
    >>> from offpath.tasks import TaskRegistry
    >>> tasks = TaskRegistry()
    >>> @tasks.task(max_attempts=3, timeout_s=10)
    ... def resize(image_id: str, width: int = 640) -> dict[str, str]:
    ...     return {"image_id": image_id}
    >>> resize.bind("img-1", width="800")
    {'image_id': 'img-1', 'width': 800}
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, ParamSpec, TypeVar, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from offpath.context import JobContext
from offpath.errors import InvalidArguments, UnknownTask
from offpath.retry import Backoff

P = ParamSpec("P")
R = TypeVar("R")

_POOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ARGS_CONFIG = ConfigDict(extra="forbid", arbitrary_types_allowed=False)


@dataclass(frozen=True)
class TaskOptions:
    """How a task is delivered and retried.

    Attributes:
        durable: tracked in the job store, deduplicated, retried and dead-lettered.
            ``False`` is fire-and-forget: no record, one best-effort attempt.
        max_attempts: attempts before a durable job is dead (1 = never retried).
        backoff: delay between attempts.
        timeout_s: longest a single attempt may run.
        pool: the worker pool that runs it (``None``: the default pool). Whoever
            enqueues it, the producer sends it to that pool's queue.
    """

    durable: bool = True
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    timeout_s: float = 30.0
    pool: str | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if self.pool is not None and not _POOL_NAME.fullmatch(self.pool):
            raise ValueError(f"pool {self.pool!r} must be 1-64 of A-Za-z0-9_-")


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, naming the argument: ``user_id: Input should be ...``."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "args"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def context_parameter(fn: Callable[..., Any]) -> str | None:
    """The name of the parameter typed :class:`~offpath.context.JobContext`, if any."""
    hints = get_type_hints(fn)
    names = [name for name, hint in hints.items() if hint is JobContext and name != "return"]
    if len(names) > 1:
        raise TypeError(f"{getattr(fn, '__name__', fn)!r}: at most one JobContext parameter")
    return names[0] if names else None


def _args_fields(fn: Callable[..., Any], name: str, skip: str | None) -> dict[str, Any]:
    """Each job argument's ``(annotation, default)``, as :func:`pydantic.create_model`
    takes them.

    Raises:
        TypeError: a parameter is not a named one (``*args``, ``**kwargs``, ``/``).
    """
    fields: dict[str, Any] = {}
    hints = get_type_hints(fn, include_extras=True)  # resolves string annotations
    for param in inspect.signature(fn).parameters.values():
        if param.name == skip:
            continue  # the worker's to give, not the caller's
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"task {name!r}: parameter {param.name!r} must be a named parameter")
        annotation = hints.get(param.name, Any)
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    return fields


class Task(Generic[P, R]):
    """A registered function. Calling it runs it here and now, like the plain function."""

    def __init__(self, fn: Callable[P, R], name: str, options: TaskOptions) -> None:
        self.fn = fn
        self.name = name
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.context_param = context_parameter(fn)
        signature = inspect.signature(fn)
        # What callers bind against: the job's arguments, without the context.
        self._signature = signature.replace(
            parameters=[p for p in signature.parameters.values() if p.name != self.context_param]
        )
        self._args_fields = _args_fields(fn, name, self.context_param)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    @cached_property
    def args_model(self) -> type[BaseModel]:
        """The pydantic model of the job's arguments, built on first use.

        Not at registration: a worker runs one or two of a module's tasks per
        container, and each model costs its cold start a few milliseconds (all of
        the example's, about 10 ms). A signature is still checked at registration;
        an annotation pydantic cannot validate is refused (pydantic's
        ``PydanticSchemaGenerationError``) at the task's first enqueue or job, so a
        test that enqueues each task once finds it before a deploy does.
        """
        model: type[BaseModel] = create_model(
            f"{self.name}_args", __config__=_ARGS_CONFIG, **self._args_fields
        )
        return model

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Task({self.name!r}, durable={self.options.durable})"

    def bind(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Validate a call's arguments and return them as a JSON-ready dict.

        Raises:
            InvalidArguments: the call does not fit the signature or its types.
        """
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidArguments(f"{self.name}: {exc}") from exc
        return self.validate(bound.arguments)

    def validate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Validate an argument mapping (e.g. from JSON) and return its JSON form."""
        return self._model(args).model_dump(mode="json")

    def load(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Validate JSON arguments and return the Python values to call with."""
        model = self._model(args)
        return {name: getattr(model, name) for name in type(model).model_fields}

    def _model(self, args: Mapping[str, Any]) -> BaseModel:
        if not isinstance(args, Mapping):
            raise InvalidArguments(f"{self.name}: args must be an object")
        try:
            return self.args_model.model_validate(dict(args))
        except ValidationError as exc:
            raise InvalidArguments(f"{self.name}: {format_validation_error(exc)}") from exc

    def coroutine(
        self, kwargs: Mapping[str, Any], context: JobContext | None = None
    ) -> Coroutine[Any, Any, Any]:
        """An async task's call, to await on a loop of the caller's (the worker's)."""
        if not self.is_async:
            raise TypeError(f"task {self.name!r} is not async")
        fn: Callable[..., Coroutine[Any, Any, Any]] = self.fn  # type: ignore[assignment]
        return fn(**self._call_kwargs(kwargs, context))

    def _call_kwargs(
        self, kwargs: Mapping[str, Any], context: JobContext | None
    ) -> Mapping[str, Any]:
        if self.context_param is None:
            return kwargs
        # Called outside a worker (a test, a script): a context with no record.
        given = context or JobContext.detached(self.name, self.options.timeout_s)
        return {**kwargs, self.context_param: given}

    def run(self, kwargs: Mapping[str, Any], context: JobContext | None = None) -> Any:
        """Run the task to completion with already-loaded arguments.

        ``context`` goes to the task's JobContext parameter, if it declares one.
        """
        fn: Callable[..., Any] = self.fn
        kwargs = self._call_kwargs(kwargs, context)
        if not self.is_async:
            return fn(**kwargs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(fn(**kwargs))
        # Called from inside a running loop (an async caller, a test harness): a loop
        # cannot nest, so the coroutine gets its own loop on a worker thread.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, fn(**kwargs)).result()


class TaskRegistry:
    """Names to tasks. Import the module that defines the tasks to fill it."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task[Any, Any]] = {}

    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R]: ...  # bare: @task

    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        durable: bool = True,
        max_attempts: int = 5,
        backoff: Backoff | None = None,
        timeout_s: float = 30.0,
        pool: str | None = None,
    ) -> Callable[[Callable[P, R]], Task[P, R]]: ...

    def task(
        self,
        fn: Callable[P, R] | None = None,
        /,
        *,
        name: str | None = None,
        durable: bool = True,
        max_attempts: int = 5,
        backoff: Backoff | None = None,
        timeout_s: float = 30.0,
        pool: str | None = None,
    ) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
        """Register a function as a task (usable bare or with options).

        ``pool`` names the worker pool that runs it (a pool is a queue and the worker
        function consuming it, declared in ``template.yaml``); left out, the default.
        """
        options = TaskOptions(
            durable=durable,
            max_attempts=max_attempts,
            backoff=backoff or Backoff(),
            timeout_s=timeout_s,
            pool=pool,
        )

        def register(func: Callable[P, R]) -> Task[P, R]:
            task_name = name or func.__name__
            if task_name in self._tasks and self._tasks[task_name].fn is not func:
                raise ValueError(f"a task named {task_name!r} is already registered")
            registered = Task(func, task_name, options)
            self._tasks[task_name] = registered
            return registered

        return register(fn) if fn is not None else register

    def get(self, name: str) -> Task[Any, Any]:
        """The task registered under ``name``.

        Raises:
            UnknownTask: nothing is registered under that name.
        """
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTask(f"unknown task {name!r}") from None

    def resolve(self, fn: Callable[..., Any]) -> Task[Any, Any]:
        """The registered task for a :class:`Task` or the function it wraps."""
        if isinstance(fn, Task) and self._tasks.get(fn.name) is fn:
            return fn
        for registered in self._tasks.values():
            if registered.fn is fn:
                return registered
        name = getattr(fn, "__name__", repr(fn))
        raise UnknownTask(f"{name} is not a registered task; decorate it with @task")

    def __iter__(self) -> Iterator[Task[Any, Any]]:
        return iter(self._tasks.values())

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)


registry = TaskRegistry()
"""The default registry, filled by :func:`task`."""

task = registry.task
