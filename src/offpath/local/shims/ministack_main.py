"""Runs MiniStack for ``offpath dev``, in MiniStack's own interpreter.

    <ministack venv>/bin/python src/offpath/local/shims/ministack_main.py --port 4566

Beside MiniStack's AWS APIs it serves offpath's control routes (see
:mod:`offpath.local.backends`), and it changes two things:

- it leaves schedules to the emulator: offpath dev fires them at their times
  (MiniStack sweeps every 10 s), in their time zones, with their retry policies, so
  MiniStack's own sweeps would fire each one a second time;
- a long-polling ReceiveMessage returns as soon as a message is sent, as SQS's does
  (MiniStack alone looks again every 0.1 s, which adds 50 ms on average to every
  job's start).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from control import ControlMiddleware, Meter, ShiftedTime, exit_with_parent

# The modules whose ``time.time()`` stamps what SQS, DynamoDB and the schedulers compare.
CLOCKED = ("sqs", "dynamodb", "dynamodb_streams", "scheduler", "eventbridge")


# What makes a message visible at once, and so should end a waiting long poll.
WAKING = (
    "SendMessage",
    "SendMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
)


class WakeOnSend(types.ModuleType):
    """``asyncio`` for MiniStack's SQS module: its long poll's ``sleep`` ends early
    when :meth:`wake` is called (after a send), instead of running out its 0.1 s."""

    def __init__(self) -> None:
        super().__init__("asyncio")
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float, result: Any = None) -> Any:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiters.add((loop, waiter))
        try:
            await asyncio.wait([waiter], timeout=delay)
        finally:
            with self._lock:
                self._waiters.discard((loop, waiter))
        return result

    def wake(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, waiter in waiters:
            loop.call_soon_threadsafe(_settle, waiter)


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _waking(action: Callable[..., Any], wake: Callable[[], None]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        result = action(*args, **kwargs)
        wake()
        return result

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description="MiniStack with offpath's clock and meter")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    os.environ["BIND_HOST"] = args.host
    os.environ["GATEWAY_PORT"] = str(args.port)
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    # The template's ARNs name this account (moto's default too).
    os.environ.setdefault("MINISTACK_ACCOUNT_ID", "123456789012")

    import importlib

    import ministack.app as ministack
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    clock = ShiftedTime()
    for name in CLOCKED:
        module: Any = importlib.import_module(f"ministack.services.{name}")
        module.time = clock
        if name in ("scheduler", "eventbridge"):
            module.start_scheduler = lambda: None

    sqs: Any = importlib.import_module("ministack.services.sqs")
    wakeable = WakeOnSend()
    sqs.asyncio = wakeable
    for action in WAKING:
        sqs._HANDLERS[action] = _waking(sqs._HANDLERS[action], wakeable.wake)

    exit_with_parent()
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.keep_alive_timeout = 75
    config.loglevel = "ERROR"
    config.accesslog = None
    asyncio.run(serve(ControlMiddleware(ministack.app, Meter(clock)), config))


if __name__ == "__main__":
    main()
