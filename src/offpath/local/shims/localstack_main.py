"""Runs LocalStack in host mode (no Docker) for ``offpath dev``, in its own interpreter.

    .venv-localstack/bin/python src/offpath/local/shims/localstack_main.py

Configured by LocalStack's own variables (``GATEWAY_LISTEN``, ``SERVICES``...; see
``infra/localstack``). Beside its AWS APIs it serves offpath's control routes (see
:mod:`offpath.local.backends`): the clock moves what its SQS compares, and a
response handler in its handler chain counts every request by service and operation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from control import Meter, ShiftedTime, exit_with_parent

# What LocalStack needs to run outside its container (its documented host mode).
HOST_MODE = {
    "GATEWAY_SERVER": "hypercorn",
    "DNS_ADDRESS": "0",
    "SERVICES": "sqs,events",
    # Queue URLs on the gateway's own address (the default names a public DNS name).
    "SQS_ENDPOINT_STRATEGY": "path",
    "EAGER_SERVICE_LOADING": "1",
    "SKIP_SSL_CERT_DOWNLOAD": "1",
    "DISABLE_EVENTS": "1",  # no analytics
    "LOCALSTACK_TELEMETRY": "0",
}


def main() -> None:
    for key, value in HOST_MODE.items():
        os.environ.setdefault(key, value)
    from localstack.aws import handlers
    from localstack.http import Request, Response
    from localstack.services.edge import ROUTER
    from localstack.services.sqs import models as sqs_models
    from localstack.services.sqs import provider as sqs_provider

    clock = ShiftedTime()
    sqs_models.time = clock
    meter = Meter(clock)
    # LocalStack re-queues expired in-flight and delayed messages once a second,
    # from a worker thread: after a move of the clock, run that pass at once.
    workers: list[Any] = []
    original_init = sqs_provider.QueueUpdateWorker.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        workers.append(self)

    sqs_provider.QueueUpdateWorker.__init__ = init
    meter.after_advance.append(lambda: [w.do_update_all_queues() for w in workers])

    def count(_chain: Any, context: Any, _response: Any) -> None:
        if context.service is not None and context.operation is not None:
            meter.count(f"{context.service.signing_name}:{context.operation.name}")

    def control(request: Request, **_: Any) -> Response:
        status, answer = meter.answer(request.method, request.path, request.get_data())
        return Response.for_json(answer, status=status)

    handlers.run_custom_response_handlers.append(count)
    ROUTER.add("/_offpath/clock", endpoint=control, methods=["GET", "POST"])
    ROUTER.add("/_offpath/calls", endpoint=control, methods=["GET", "DELETE"])
    exit_with_parent()
    from localstack.runtime.main import main as localstack_main

    localstack_main()


if __name__ == "__main__":
    main()
