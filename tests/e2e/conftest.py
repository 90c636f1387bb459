"""The targets of the end-to-end suite.

- ``dev``: template.yaml run by the emulator ``offpath dev`` runs (its default
  backend, in the background, as ``offpath dev`` does), in CI.
- ``stand-in``: a deployed stack as the suite sees one, with moto's server standing in
  for AWS: a CloudFormation stack in moto whose outputs name the queues, table and
  HTTP API of an emulator running on that same moto server, and a Lambda endpoint
  that invokes its functions. The suite reaches it exactly as it reaches AWS
  (``DescribeStacks``, SigV4, boto3 clients): only the endpoints differ. In CI.
- ``stack``: the deployed stack ``--stack-name`` (or ``OFFPATH_E2E_STACK``) names,
  with the credentials and Region of the usual AWS environment; skipped, with the
  reason, when no credentials are found. The local targets are skipped then.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer

from offpath.local.backends import DEFAULT_BACKEND, free_port
from offpath.local.emulator import Emulator, EmulatorOptions
from tests import iam_calls
from tests.e2e.target import Target, from_outputs, stack_outputs
from tests.support import TEMPLATE

# The shell's AWS settings, read before the tests' own environment is isolated
# (tests/conftest.py replaces them with fake ones for every test).
REAL_AWS = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
LOCAL_CREDENTIALS = Credentials("test", "test")
# The emulator's functions run without a batching window: the suite waits less.
LOCAL_PARAMETERS = {"WorkerBatchingWindowSeconds": "0"}
TARGETS = ("dev", "stand-in", "stack")


def _emulator(backend: str, scratch: Path) -> Emulator:
    options = EmulatorOptions(
        template=TEMPLATE,
        api_port=0,
        backend=backend,
        background=True,
        parameters=LOCAL_PARAMETERS,
        extra_environment={
            "EXAMPLE_OUTBOX": str(scratch / "outbox.jsonl"),
            **iam_calls.function_environment(),
        },
    )
    return Emulator(options, log=lambda line: None).start()


def _warm(target: Target) -> None:
    """One job through the API and the worker first: no check then times a cold start
    (a first attempt seconds late would defeat the retry check's timing)."""
    accepted = target.enqueue("generate_report", {"user_id": 1, "month": "2026-01"})
    target.wait(accepted["job_id"])
    target.store.delete(accepted["job_id"])


def _local_target(name: str, emulator: Emulator) -> Target:
    assert emulator.clients is not None and emulator.provisioned is not None
    provisioned = emulator.provisioned
    return Target(
        name=name,
        api_url=f"{emulator.api_url}/",
        region="us-east-1",
        sqs=emulator.clients.sqs,
        dynamodb=emulator.clients.dynamodb,
        queue_url=provisioned.queue_url("JobsQueue"),
        dlq_url=provisioned.queue_url("JobsDeadLetterQueue"),
        table_name=provisioned.table_name(),
        invoke_scheduler=lambda event: dict(emulator.invoke("SchedulerFunction", event)),
        credentials=LOCAL_CREDENTIALS,
    )


class _LambdaInvoke(BaseHTTPRequestHandler):
    """Lambda's Invoke route, in front of the emulator's functions (the stand-in's)."""

    emulator: Emulator

    def do_POST(self) -> None:
        # /2015-03-31/functions/<name>/invocations
        name = self.path.split("/")[3]
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        result = self.emulator.invoke(name, json.loads(body or b"{}"))
        data = json.dumps(result).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def _stand_in(emulator: Emulator) -> Iterator[Target]:
    """The emulator's resources seen as a deployed stack: a CloudFormation stack in
    moto's server whose outputs name them, and a Lambda endpoint for its functions."""
    assert emulator.provisioned is not None
    provisioned = emulator.provisioned
    outputs = {
        "ApiUrl": f"{emulator.api_url}/",
        "JobsQueueUrl": provisioned.queue_url("JobsQueue"),
        "DeadLetterQueueUrl": provisioned.queue_url("JobsDeadLetterQueue"),
        "JobsTableName": provisioned.table_name(),
        "SchedulerFunctionName": "SchedulerFunction",
    }
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    handler = type("Invoke", (_LambdaInvoke,), {"emulator": emulator})
    invoke = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=invoke.serve_forever, daemon=True).start()
    try:
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        cloudformation = f"http://127.0.0.1:{port}"
        template = {
            "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {k: {"Value": v} for k, v in outputs.items()},
        }
        session.client("cloudformation", endpoint_url=cloudformation).create_stack(
            StackName="offpath-e2e", TemplateBody=json.dumps(template)
        )
        found = stack_outputs(session, "offpath-e2e", endpoint_url=cloudformation)
        assert found == outputs
        urls = {s: emulator.endpoints.url(s) for s in ("sqs", "dynamodb")}
        yield from_outputs(
            "offpath-e2e (moto)",
            found,
            session,
            endpoints={
                **{k: v for k, v in urls.items() if v},
                "lambda": f"http://127.0.0.1:{invoke.server_address[1]}",
            },
        )
    finally:
        invoke.shutdown()
        invoke.server_close()
        moto.stop()


def _deployed(config: pytest.Config) -> Target:
    stack_name = config.getoption("--stack-name")
    with pytest.MonkeyPatch.context() as mp:  # the shell's AWS environment, not the tests'
        for name in list(os.environ):
            if name.startswith("AWS_"):
                mp.delenv(name)
        for name, value in REAL_AWS.items():
            mp.setenv(name, value)
        session = boto3.session.Session(
            profile_name=config.getoption("--stack-profile"),
            region_name=config.getoption("--stack-region"),
        )
        credentials = session.get_credentials()
        if credentials is None:
            pytest.skip(
                f"--stack-name {stack_name}: no AWS credentials found (environment, profile, "
                "SSO or instance role); the deployed-stack suite needs them and never fakes them"
            )
        if not session.region_name:
            pytest.skip(f"--stack-name {stack_name}: no Region (--stack-region or AWS_REGION)")
        target = from_outputs(stack_name, stack_outputs(session, stack_name), session)
    _warm(target)
    return target


@pytest.fixture(scope="module")
def local_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One emulator for both local targets (the stand-in names its resources)."""
    emulator = _emulator(DEFAULT_BACKEND, tmp_path_factory.mktemp("dev"))
    try:
        _warm(_local_target("warm-up", emulator))
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module", params=TARGETS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    kind = request.param
    deployed = request.config.getoption("--stack-name")
    if kind == "stack":
        if not deployed:
            pytest.skip("no deployed stack named (--stack-name or OFFPATH_E2E_STACK)")
        yield _deployed(request.config)
        return
    if deployed:
        pytest.skip(f"pointed at the deployed stack {deployed}: local targets left out")
    emulator: Emulator = request.getfixturevalue("local_emulator")
    if kind == "dev":
        yield _local_target("offpath dev", emulator)
        return
    with _stand_in(emulator) as stand_in:
        yield stand_in
