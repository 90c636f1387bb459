"""Tasks: registration, argument validation, options."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import pytest
from pydantic import Field

from offpath.errors import InvalidArguments, UnknownTask
from offpath.retry import Backoff
from offpath.tasks import TaskRegistry


@pytest.fixture
def tasks() -> TaskRegistry:
    return TaskRegistry()


def test_bind_validates_and_coerces_at_enqueue_time(tasks: TaskRegistry) -> None:
    @tasks.task(max_attempts=3, timeout_s=10, backoff=Backoff(base_s=1, cap_s=8))
    def resize(image_id: str, width: Annotated[int, Field(gt=0)] = 640) -> None: ...

    assert resize.bind("img-1", width="800") == {"image_id": "img-1", "width": 800}
    assert resize.bind(image_id="img-2") == {"image_id": "img-2", "width": 640}
    assert resize.options.max_attempts == 3
    assert resize.options.backoff == Backoff(base_s=1, cap_s=8)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing a required argument: 'image_id'"),
        (("a",), {"width": "wide"}, "width: Input should be a valid integer"),
        (("a",), {"width": 0}, "width: Input should be greater than 0"),
        (("a",), {"colour": "red"}, "unexpected keyword argument 'colour'"),
        (("a", 1, 2), {}, "too many positional arguments"),
    ],
)
def test_bad_calls_fail_in_the_caller_with_the_argument_named(
    tasks: TaskRegistry, args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    @tasks.task
    def resize(image_id: str, width: Annotated[int, Field(gt=0)] = 640) -> None: ...

    with pytest.raises(InvalidArguments, match="resize") as excinfo:
        resize.bind(*args, **kwargs)
    assert message in str(excinfo.value)


def test_validate_rejects_unknown_fields_and_non_objects(tasks: TaskRegistry) -> None:
    @tasks.task
    def greet(name: str) -> str:
        return f"hello {name}"

    with pytest.raises(InvalidArguments, match="extra: Extra inputs are not permitted"):
        greet.validate({"name": "x", "extra": 1})
    with pytest.raises(InvalidArguments, match="args must be an object"):
        greet.validate(["x"])  # type: ignore[arg-type]


def test_load_returns_python_values_and_run_handles_sync_and_async(tasks: TaskRegistry) -> None:
    @tasks.task
    def add(a: int, b: int) -> int:
        return a + b

    @tasks.task
    async def slow_add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    assert add.run(add.load({"a": "2", "b": 3})) == 5
    assert slow_add.run(slow_add.load({"a": 2, "b": 3})) == 5
    assert slow_add.is_async and not add.is_async
    assert add(1, 1) == 2  # still a plain function


def test_registry_lookup_and_resolve(tasks: TaskRegistry) -> None:
    @tasks.task(name="renamed", durable=False)
    def original() -> None: ...

    assert tasks.get("renamed") is original
    assert tasks.resolve(original) is original
    assert tasks.resolve(original.fn) is original
    assert "renamed" in tasks and len(tasks) == 1
    with pytest.raises(UnknownTask, match="unknown task 'nope'"):
        tasks.get("nope")

    def stranger() -> None: ...

    with pytest.raises(UnknownTask, match="stranger is not a registered task"):
        tasks.resolve(stranger)


def test_registration_rejects_ambiguous_signatures_and_duplicate_names(
    tasks: TaskRegistry,
) -> None:
    with pytest.raises(TypeError, match="must be a named parameter"):

        @tasks.task
        def variadic(*items: int) -> None: ...

    @tasks.task(name="dup")
    def first() -> None: ...

    with pytest.raises(ValueError, match="already registered"):

        @tasks.task(name="dup")
        def second() -> None: ...


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_attempts": 0}, "max_attempts"), ({"timeout_s": 0}, "timeout_s")],
)
def test_options_are_checked(tasks: TaskRegistry, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tasks.task(**kwargs)  # type: ignore[call-overload]


def test_example_tasks_do_not_import_fastapi() -> None:
    import subprocess
    import sys

    code = "import sys, functions.shared.tasks; print('fastapi' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_an_async_task_also_runs_from_inside_a_running_event_loop(tasks: TaskRegistry) -> None:
    @tasks.task
    async def double(n: int) -> int:
        await asyncio.sleep(0)
        return 2 * n

    async def caller() -> int:
        result: int = double.run({"n": 21})
        return result

    # On a thread of its own: the test runner's main thread may hold a loop already.
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(asyncio.run, caller()).result() == 42
