"""The emulator as the benchmarks run it: template.yaml, its functions' logs out of the way."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from offpath.local.emulator import Emulator, EmulatorOptions
from offpath.producer import Producer
from offpath.runtime import build_producer
from offpath.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
TASK_MODULES = "functions.shared.tasks,bench.tasks"


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null: ours and that of every process started in the block.

    The functions log at INFO and print EMF metrics, as deployed; the emulator's
    child processes write them to the stdout they inherit, which would bury the
    benchmark's own output.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextmanager
def running_emulator(
    *,
    background: bool,
    outbox: Path | None = None,
    backend: str = "moto",
    parameters: dict[str, Any] | None = None,
) -> Iterator[Emulator]:
    """template.yaml on its own backend (moto unless named), with the benchmark's tasks loaded."""
    options = EmulatorOptions(
        template=TEMPLATE,
        api_port=0,
        background=background,
        backend=backend,
        parameters=parameters or {},
        extra_environment={
            "OFFPATH_TASK_MODULES": TASK_MODULES,
            **({"EXAMPLE_OUTBOX": str(outbox)} if outbox else {}),
        },
    )
    with quiet_stdout(), Emulator(options, log=lambda line: None) as emulator:
        yield emulator


def producer_for(emulator: Emulator) -> Producer:
    """The producer ApiFunction would build, on the emulator's clients (long delays too)."""
    assert emulator.provisioned is not None and emulator.clients is not None
    env = emulator.provisioned.environment("ApiFunction")
    settings = Settings(
        queue_url=env["OFFPATH_QUEUE_URL"],
        queue_arn=env.get("OFFPATH_QUEUE_ARN", ""),
        table_name=env["OFFPATH_TABLE_NAME"],
        scheduler_group=env.get("OFFPATH_SCHEDULER_GROUP", "default"),
        scheduler_role_arn=env.get("OFFPATH_SCHEDULER_ROLE_ARN", ""),
        scheduler_dlq_arn=env.get("OFFPATH_SCHEDULER_DLQ_ARN", ""),
    )
    return build_producer(settings, emulator.clients)
