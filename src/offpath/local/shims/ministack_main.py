"""Runs MiniStack for ``offpath dev``, in MiniStack's own interpreter.

    .venv-ministack/bin/python src/offpath/local/shims/ministack_main.py --port 4566

Beside MiniStack's AWS APIs it serves offpath's control routes (see
:mod:`offpath.local.backends`), and it leaves schedules to the emulator: offpath dev
fires them at their times (MiniStack sweeps every 10 s), in their time zones, with
their retry policies, so MiniStack's own sweeps would fire each one a second time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from control import ControlMiddleware, Meter, ShiftedTime, exit_with_parent

# The modules whose ``time.time()`` stamps what SQS, DynamoDB and the schedulers compare.
CLOCKED = ("sqs", "dynamodb", "dynamodb_streams", "scheduler", "eventbridge")


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

    exit_with_parent()
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.keep_alive_timeout = 75
    config.loglevel = "ERROR"
    config.accesslog = None
    asyncio.run(serve(ControlMiddleware(ministack.app, Meter(clock)), config))


if __name__ == "__main__":
    main()
