"""Cold start of each function beside a minimal handler making the same AWS calls.

Each sample is a fresh interpreter that imports the handler and serves one event,
timed from inside the process, so interpreter start-up (the same for both) is left
out; the parent also records each process's wall time. Variants are interleaved
run by run, so drift on the machine hits all of them alike. Every child talks to
one moto server provisioned from template.yaml, whose meter checks that offpath
and its baseline made the same AWS calls.

Byte-code is cached for every timed sample (a discarded warm-up run writes it), as
on Lambda: the artifact ships hash-based ``.pyc`` files compiled by Python 3.12
(Makefile ``precompile``; section 5 counts them). The children keep it in a scratch
``PYTHONPYCACHEPREFIX``, so the tree and the virtualenv are left as they were, and
whatever the parent's ``PYTHONDONTWRITEBYTECODE`` says: without byte-code each
sample would compile every module it imports, which no Lambda cold start does.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from bench.report import Figure, Section
from offpath.aws import Clients
from offpath.envelope import Envelope
from offpath.local.emulator import LOCAL_CREDENTIALS
from offpath.local.motoserver import MotoServer
from offpath.local.provision import Provisioned, provision

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
MARK = "BENCH "

# Runs first in every child: the clock starts before any import of the code under test.
_PRELUDE = """\
import time
_t0 = time.perf_counter()
import json, sys
event = json.loads(sys.argv[1])


class Context:
    function_name = sys.argv[2]
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + sys.argv[2]
    aws_request_id = "bench-cold-start"

    def get_remaining_time_in_millis(self):
        return 30_000


context = Context()


def _report(handler, ok):
    _t1 = time.perf_counter()
    response = handler(event, context)
    _t2 = time.perf_counter()
    assert ok(response), response
    result = {
        "import_ms": (_t1 - _t0) * 1000,
        "invoke_ms": (_t2 - _t1) * 1000,
        "total_ms": (_t2 - _t0) * 1000,
    }
    print("BENCH " + json.dumps(result))


"""

API = """\
from functions.api.handler import handler
_report(handler, lambda r: r["statusCode"] == 202)
"""

API_MINIMAL = """\
import os
import uuid
import boto3
from fastapi import FastAPI
from mangum import Mangum
from pydantic import BaseModel

app = FastAPI()
_clients = {}


class Report(BaseModel):
    user_id: int
    month: str


@app.post("/reports", status_code=202)
def reports(body: Report) -> dict[str, str]:
    if not _clients:
        _clients.update(ddb=boto3.client("dynamodb"), sqs=boto3.client("sqs"))
    job_id = uuid.uuid4().hex
    _clients["ddb"].put_item(
        TableName=os.environ["OFFPATH_TABLE_NAME"],
        Item={"pk": {"S": "baseline#" + job_id}, "status": {"S": "queued"}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    message = {"job_id": job_id, "task": "generate_report", "args": body.model_dump()}
    _clients["sqs"].send_message(
        QueueUrl=os.environ["OFFPATH_QUEUE_URL"], MessageBody=json.dumps(message)
    )
    return {"job_id": job_id, "status": "queued"}


_report(Mangum(app, lifespan="off"), lambda r: r["statusCode"] == 202)
"""

WORKER = """\
from functions.worker.handler import handler
_report(handler, lambda r: r == {"batchItemFailures": []})
"""

WORKER_MINIMAL = """\
import os
import boto3
_clients = {}


def _set_status(job_id, status, extra=None):
    names, values, update = {"#s": "status"}, {":s": {"S": status}}, "SET #s = :s"
    for n, (name, value) in enumerate((extra or {}).items()):
        names[f"#a{n}"], values[f":a{n}"] = name, {"S": value}
        update += f", #a{n} = :a{n}"
    _clients["ddb"].update_item(
        TableName=os.environ["OFFPATH_TABLE_NAME"], Key={"pk": {"S": "baseline#" + job_id}},
        UpdateExpression=update, ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def handler(event, context):
    if not _clients:
        _clients["ddb"] = boto3.client("dynamodb")
    failures = []
    for record in event["Records"]:
        try:
            job = json.loads(record["body"])
            _set_status(job["job_id"], "running")
            args = job["args"]
            url = f"https://reports.example.com/{args['user_id']}/{args['month']}.pdf"
            _set_status(job["job_id"], "succeeded", {"result": json.dumps({"url": url})})
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


_report(handler, lambda r: r == {"batchItemFailures": []})
"""

SCHEDULER = """\
from functions.scheduler.handler import handler
_report(handler, lambda r: not r["duplicate"])
"""

SCHEDULER_MINIMAL = """\
import os
import boto3
_clients = {}


def handler(event, context):
    if not _clients:
        _clients.update(ddb=boto3.client("dynamodb"), sqs=boto3.client("sqs"))
    job_id = f"sched-{event['schedule']}-{event['scheduled_time']}"
    _clients["ddb"].put_item(
        TableName=os.environ["OFFPATH_TABLE_NAME"],
        Item={"pk": {"S": "baseline#" + job_id}, "status": {"S": "queued"}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    message = {"job_id": job_id, "task": event["task"], "args": event["args"]}
    _clients["sqs"].send_message(
        QueueUrl=os.environ["OFFPATH_QUEUE_URL"], MessageBody=json.dumps(message)
    )
    return {"job_id": job_id, "duplicate": False}


_report(handler, lambda r: not r["duplicate"])
"""


@dataclass(frozen=True)
class Pair:
    """One function: its real handler and the minimal handler it is compared with."""

    function: str
    what: str  # the invocation, for the table
    offpath: str
    minimal: str
    minimal_is: str  # what the minimal handler is, for the output


PAIRS = (
    Pair(
        "ApiFunction",
        "POST /reports",
        API,
        API_MINIMAL,
        "FastAPI + Mangum + pydantic app, boto3 PutItem + SendMessage",
    ),
    Pair(
        "WorkerFunction",
        "1 SQS record",
        WORKER,
        WORKER_MINIMAL,
        "bare boto3 handler: json.loads the body, UpdateItem running, run, UpdateItem "
        "succeeded, return batchItemFailures (no Powertools, no validation)",
    ),
    Pair(
        "SchedulerFunction",
        "1 schedule tick",
        SCHEDULER,
        SCHEDULER_MINIMAL,
        "bare boto3 handler: conditional PutItem + SendMessage",
    ),
)


class Events:
    """A fresh event per sample: a new job for the worker, a new tick for the scheduler."""

    def __init__(self, provisioned: Provisioned) -> None:
        self.queue_arn: str = provisioned.topology.resolver.attrs[("JobsQueue", "Arn")]
        self.ticks = 0
        self.base_tick = datetime(2026, 6, 1, tzinfo=UTC)

    def for_function(self, function: str) -> dict[str, Any]:
        if function == "ApiFunction":
            event: dict[str, Any] = json.loads((EVENTS / "http-api-post-reports.json").read_text())
            return event
        if function == "WorkerFunction":
            event = json.loads((EVENTS / "sqs.json").read_text())
            body = Envelope.new("generate_report", {"user_id": 42, "month": "2026-06"})
            event["Records"][0].update(
                messageId=str(uuid.uuid4()), body=body.to_body(), eventSourceARN=self.queue_arn
            )
            return event
        event = json.loads((EVENTS / "schedule-v2-exchange-rates.json").read_text())
        self.ticks += 1
        tick = self.base_tick + timedelta(minutes=self.ticks)
        event["scheduled_time"] = tick.isoformat().replace("+00:00", "Z")
        return event


def environments(
    endpoint: str, provisioned: Provisioned, pycache: Path
) -> dict[str, dict[str, str]]:
    """Each function's environment for the children, pointed at the moto server.

    ``pycache``: where the children cache byte-code (``PYTHONPYCACHEPREFIX``).
    """
    return {
        pair.function: child_environment(endpoint, pycache, provisioned.environment(pair.function))
        for pair in PAIRS
    }


def child_environment(
    endpoint: str,
    pycache: Path,
    function_env: Mapping[str, str],
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """A child's environment: this process's, less its AWS and offpath settings and its
    byte-code switches, then the function's (``function_env``), then the bench's."""
    inherited = {
        k: v
        for k, v in environ.items()
        if not k.startswith(("AWS_", "OFFPATH_", "POWERTOOLS_"))
        and k not in {"PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"}
    }
    return {
        **inherited,
        **function_env,
        "PYTHONPYCACHEPREFIX": str(pycache),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Off Lambda the X-Ray SDK has no daemon to talk to.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }


def run_child(code: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result: dict[str, float] = json.loads(lines[-1].removeprefix(MARK))
    result["process_ms"] = wall_ms
    return result


@dataclass
class Samples:
    rows: list[dict[str, float]]
    calls: list[dict[str, int]]  # AWS requests of each sample, by service:Operation

    def median(self, key: str) -> float:
        return statistics.median(row[key] for row in self.rows)

    def calls_text(self) -> str:
        if any(c != self.calls[0] for c in self.calls):
            return "varied between samples: " + "; ".join(map(_calls, self.calls))
        return _calls(self.calls[0])


def measure(runs: int) -> dict[tuple[str, str], Samples]:
    """``(function, "offpath" | "minimal")`` -> its samples."""
    with MotoServer() as server, tempfile.TemporaryDirectory(prefix="offpath-pyc-") as pycache:
        key_id, secret = LOCAL_CREDENTIALS
        session = boto3.session.Session(
            aws_access_key_id=key_id, aws_secret_access_key=secret, region_name="us-east-1"
        )
        clients = Clients("us-east-1", endpoint_url=server.endpoint, session=session)
        provisioned = provision(ROOT / "template.yaml", clients)
        envs = environments(server.endpoint, provisioned, Path(pycache))
        events = Events(provisioned)
        variants = [
            (pair.function, kind, code)
            for pair in PAIRS
            for kind, code in (("offpath", pair.offpath), ("minimal", pair.minimal))
        ]
        samples = {(function, kind): Samples([], []) for function, kind, _ in variants}
        for function, _, code in variants:  # warm-up: writes byte-code, not counted
            run_child(code, [json.dumps(events.for_function(function)), function], envs[function])
        for _ in range(runs):
            for function, kind, code in variants:
                event = json.dumps(events.for_function(function))
                server.reset_calls()
                row = run_child(code, [event, function], envs[function])
                samples[(function, kind)].rows.append(row)
                samples[(function, kind)].calls.append(server.calls())
    return samples


def run(runs: int = 7) -> Section:
    started = time.perf_counter()
    runs = max(7, runs)
    samples = measure(runs)
    figures: list[Figure] = []
    details = ["  variant                      import  invoke   total  process  (ms)"]
    notes = [
        f"median of {runs} fresh processes per variant, interleaved; byte-code cached, as the "
        "artifact ships it; 'process' is the child's wall time, interpreter start included"
    ]
    for pair in PAIRS:
        ours, base = samples[(pair.function, "offpath")], samples[(pair.function, "minimal")]
        figures.append(
            Figure(
                f"{pair.function} cold start, {pair.what}",
                ours.median("total_ms"),
                base.median("total_ms"),
                "ms",
                0,
            )
        )
        for kind, s in (("offpath", ours), ("minimal", base)):
            cells = [s.median(k) for k in ("import_ms", "invoke_ms", "total_ms", "process_ms")]
            details.append(
                f"  {pair.function + ' ' + kind:26} " + " ".join(f"{c:7.0f}" for c in cells)
            )
        same = "same AWS calls" if ours.calls == base.calls else "DIFFERENT AWS calls"
        notes.append(
            f"{pair.function}: baseline = {pair.minimal_is}; {same} "
            f"(offpath {ours.calls_text()}; baseline {base.calls_text()})"
        )
    notes.append(f"CPython {sys.version.split()[0]} here; Lambda runs python3.12")
    return Section(
        title="1. Cold start: fresh process, import + first invocation",
        baseline="a minimal handler per function making the same AWS calls (see notes)",
        figures=figures,
        details=details,
        notes=notes,
        seconds=time.perf_counter() - started,
    )


def _calls(calls: dict[str, int]) -> str:
    return ", ".join(f"{op} x{n}" for op, n in sorted(calls.items())) or "none"
