"""Emulator fixtures: the emulator on its own moto server, deterministic by default."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from offpath.local.backends import DEFAULT_BACKEND
from offpath.local.emulator import Emulator, EmulatorOptions
from tests import iam_calls

HERE = Path(__file__).resolve().parent
# The backend the emulator suite runs on: `OFFPATH_TEST_BACKEND=moto pytest tests/emulator`
# (read once, before the tests' own environment is isolated). scripts/test runs the
# suite on the default backend and again on moto.
TEST_BACKEND = os.environ.get("OFFPATH_TEST_BACKEND", DEFAULT_BACKEND)
SEMANTICS_TEMPLATE = HERE / "template.yaml"

StartEmulator = Callable[..., Emulator]


@pytest.fixture
def consumer_log(tmp_path: Path) -> Path:
    return tmp_path / "consumer.jsonl"


@pytest.fixture
def start_emulator(tmp_path: Path, consumer_log: Path) -> Iterator[StartEmulator]:
    started: list[Emulator] = []

    def start(template: Path = SEMANTICS_TEMPLATE, **options: Any) -> Emulator:
        options.setdefault("background", False)
        options.setdefault("backend", TEST_BACKEND)
        options.setdefault("api_port", 0)
        extra = {
            "CONSUMER_LOG": str(consumer_log),
            "EXAMPLE_OUTBOX": str(tmp_path / "outbox.jsonl"),
            **iam_calls.function_environment(template),
            **options.pop("extra_environment", {}),
        }
        log = options.pop("log", lambda line: None)
        emulator = Emulator(
            EmulatorOptions(template=template, extra_environment=extra, **options), log=log
        )
        started.append(emulator)
        return emulator.start()

    yield start
    for emulator in started:
        emulator.stop()


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
