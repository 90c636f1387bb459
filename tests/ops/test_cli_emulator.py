"""The operator commands of ``offpath`` against the emulator, as a shell would run them."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from functions.shared.tasks import build_report_archive
from standardwebhooks.webhooks import Webhook
from typer.testing import CliRunner

from offpath.cli import app
from offpath.local.control import ControlServer, write_state
from offpath.ops.status import SCAN_LIMIT
from offpath.producer import JobRequest, Producer, request
from offpath.store import Job, JobStatus
from tests.ops.conftest import OpsStack
from tests.ops.tasks import ops_fails_until_fixed, ops_noop

pytestmark = pytest.mark.emulator


@pytest.fixture
def shell(ops: OpsStack, monkeypatch: pytest.MonkeyPatch) -> OpsStack:
    """The emulator's resources exported as a developer's shell would (OFFPATH_*)."""
    for name, value in ops.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OFFPATH_TASK_MODULES", "functions.shared.tasks,tests.ops.tasks")
    return ops


def _run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=input)


def _json(*args: str) -> Any:
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _attributes(shell: OpsStack, url: str) -> dict[str, int]:
    attributes = shell.target.clients.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["All"]
    )["Attributes"]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
    }


def test_status_json_figures_match_the_queues(shell: OpsStack) -> None:
    # GIVEN 3 waiting jobs, 2 delayed, 1 in flight, and 2 dead letters
    sqs = shell.target.clients.sqs
    shell.producer.enqueue_many([request(ops_noop, n) for n in range(3)])
    for n in (3, 4):
        shell.producer.enqueue(JobRequest(ops_noop, {"n": n}, delay_s=300))
    shell.producer.enqueue(request(ops_noop, 5))
    sqs.receive_message(QueueUrl=shell.queue_url, MaxNumberOfMessages=1, VisibilityTimeout=300)
    for body in ("dead one", "dead two"):
        sqs.send_message(QueueUrl=shell.dlq_url, MessageBody=body)

    # WHEN the status is read for a script
    report = _json("status")

    # THEN its figures are the queues' own
    for key, url in (("queue", shell.queue_url), ("dead_letter_queue", shell.dlq_url)):
        shown = {k: report[key][k] for k in ("visible", "in_flight", "delayed")}
        assert shown == _attributes(shell, url)
    assert (report["queue"]["visible"], report["queue"]["in_flight"]) == (3, 1)
    assert report["queue"]["delayed"] == 2 and report["dead_letter_queue"]["visible"] == 2
    assert report["queue"]["oldest_age_s"] is None
    assert "maxReceiveCount" in report["queue"]["oldest_age_note"]
    # ... and while the table is smaller than one Scan, the sample is the whole table
    items = shell.target.clients.dynamodb.scan(TableName=shell.table_name)["Items"]
    jobs = [Job.from_item(dict(i)) for i in items if i["pk"]["S"].startswith("job#")]
    assert len(items) < SCAN_LIMIT
    assert report["jobs"]["by_status"] == dict(Counter(str(j.status) for j in jobs))
    assert report["jobs"]["by_status"]["queued"] >= 6


def test_status_once_prints_the_table(shell: OpsStack) -> None:
    result = _run("status", "--once")

    assert result.exit_code == 0, result.output
    assert "JobsQueue" in result.stdout and "DLQ" in result.stdout
    assert "not measured locally" in result.stdout


def test_enqueue_in_bulk_sends_every_job_with_one_correlation_id(shell: OpsStack) -> None:
    out = _json("enqueue", "ops_noop", "--args", '{"n": 7}', "--count", "25")

    job_ids = [job["job_id"] for job in out["jobs"]]
    assert len(set(job_ids)) == 25
    assert out["correlation_id"].startswith("cli-")
    bodies = [json.loads(m["Body"]) for m in shell.receive_all(shell.queue_url)]
    assert sorted(b["job_id"] for b in bodies) == sorted(job_ids)
    assert {(b["correlation_id"], b["args"]["n"]) for b in bodies} == {(out["correlation_id"], 7)}
    assert {shell.store.get(j).status for j in job_ids} == {JobStatus.QUEUED}


def test_an_enqueued_job_runs_and_jobs_show_reads_its_record(shell: OpsStack) -> None:
    out = _json("enqueue", "ops_noop", "--args", '{"n": 3}', "--correlation-id", "ops-cli-1")
    [job] = out["jobs"]
    shell.emulator.drain()

    shown = _json("jobs", "show", job["job_id"])

    assert (shown["status"], shown["result"], shown["attempts"]) == ("succeeded", 3, 1)
    assert shown["correlation_id"] == "ops-cli-1"
    missing = _run("jobs", "show", "no-such-job")
    assert missing.exit_code == 1 and "fire-and-forget" in missing.stderr


def test_jobs_cancel_cancels_a_waiting_job_and_refuses_a_finished_one(shell: OpsStack) -> None:
    out = _json("enqueue", "ops_noop", "--args", '{"n": 4}', "--delay-seconds", "600")
    [job] = out["jobs"]

    cancelled = _json("jobs", "cancel", job["job_id"])
    again = _run("jobs", "cancel", job["job_id"])

    assert cancelled["status"] == "cancelled"
    assert again.exit_code == 1 and "cannot be cancelled" in again.stderr


def test_a_job_enqueued_with_a_callback_url_posts_a_verified_webhook_when_it_ends(
    shell: OpsStack,
) -> None:
    calls: list[tuple[str, dict[str, str]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"])).decode()
            calls.append((body, {k.lower(): v for k, v in self.headers.items()}))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hooks"
        out = _json("enqueue", "ops_noop", "--args", '{"n": 5}', "--callback-url", url)
        shell.emulator.drain()
    finally:
        server.shutdown()
        server.server_close()

    (body, headers) = calls[0]
    assert len(calls) == 1
    provisioned = shell.emulator.provisioned
    assert provisioned is not None
    (secret_name,) = provisioned.topology.secrets.values()
    value = shell.target.clients.secretsmanager.get_secret_value(SecretId=secret_name)
    event = Webhook("whsec_" + value["SecretString"]).verify(body, headers)
    assert (event["type"], event["data"]["job_id"]) == (
        "offpath.job.succeeded",
        out["jobs"][0]["job_id"],
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enqueue", "nope"], "unknown task 'nope'"),
        (["enqueue", "ops_noop", "--args", "[1]"], "must be a JSON object"),
        (["enqueue", "ops_noop", "--args", '{"n": "x"}'], "ops_noop"),
        (["enqueue", "ops_noop", "--delay-seconds", "901"], "--delay-seconds"),
        # The producer's own checks, as for every sender: a typed error, one line.
        (
            ["enqueue", "ops_noop", "--args", '{"n": 1}', "--correlation-id", "c" * 300],
            "correlation id must be",
        ),
    ],
)
def test_enqueue_refuses_what_cannot_run(shell: OpsStack, args: list[str], message: str) -> None:
    result = _run(*args)

    assert result.exit_code != 0
    assert message in result.output
    assert shell.counts(shell.queue_url).total == 0


def test_dlq_commands_list_show_redrive_and_purge(shell: OpsStack) -> None:
    jobs = shell.producer.enqueue_many([request(ops_fails_until_fixed, n) for n in (1, 2)])
    shell.emulator.drain()
    first, second = (j.job_id for j in jobs)

    listed = _json("dlq", "list")
    assert sorted(m["job_id"] for m in listed) == sorted([first, second])
    table = _run("dlq", "list")
    assert table.exit_code == 0
    assert first in table.stdout and second in table.stdout, "ids are never cut short"
    [shown] = _json("dlq", "show", first)
    assert (shown["reason"], shown["error_type"]) == ("max_attempts", "RuntimeError")
    assert _run("dlq", "show", "nope").exit_code == 1

    assert _run("dlq", "redrive").exit_code == 2, "ids or --all"
    shell.fix()
    partial = _run("dlq", "redrive", first, "nope", "--json")
    assert partial.exit_code == 1, "an id not found fails the command, after moving the rest"
    moved = json.loads(partial.stdout)
    assert (moved["moved"], moved["not_found"]) == (1, ["nope"])
    shell.emulator.drain()
    assert shell.runs() == [1]

    shell.emulator.advance(61)  # one purge per queue every 60 s
    refused = _run("dlq", "purge", input="n\n")
    assert refused.exit_code == 1 and shell.counts(shell.dlq_url).visible == 1
    purged = _run("dlq", "purge", "--yes")
    assert purged.exit_code == 0 and "Purged 1" in purged.stdout
    assert shell.counts(shell.dlq_url).total == 0


def test_redrive_all_from_the_cli_runs_every_dead_job(shell: OpsStack) -> None:
    shell.producer.enqueue_many([request(ops_fails_until_fixed, n) for n in range(12)])
    shell.emulator.drain()
    shell.fix()

    result = _run("dlq", "redrive", "--all")
    shell.emulator.drain()

    assert result.exit_code == 0, result.output
    assert "Moved 12 message(s)" in result.stdout and "12 requeued" in result.stdout
    assert sorted(shell.runs()) == list(range(12))


def test_without_a_stack_or_environment_the_running_offpath_dev_is_the_target(
    ops: OpsStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = ControlServer(ops.emulator).start()
    try:
        monkeypatch.chdir(tmp_path)
        write_state(control.state())
        ops.target.clients.sqs.send_message(QueueUrl=ops.dlq_url, MessageBody="dead")

        # No template.yaml in this directory: the state file says where the jobs live.
        listed = _json("dlq", "list")
        status = _json("status")
    finally:
        control.stop()

    assert [m["body"] for m in listed] == ["dead"]
    assert status["target"] == f"offpath dev at {ops.emulator.endpoint}"
    assert status["dead_letter_queue"]["visible"] == 1
    assert status["queue"]["url"] == ops.queue_url


def test_status_under_offpath_dev_counts_each_pools_worker_invocations(
    ops: OpsStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a heavy job run by the heavy pool's worker
    assert ops.emulator.provisioned is not None
    pools = ops.emulator.provisioned.location.pools
    producer = Producer(ops.target.clients.sqs, ops.queue_url, ops.store, pools=pools)
    archive = build_report_archive.validate({"user_id": 7, "months": 1, "rows_per_month": 1})
    producer.enqueue(JobRequest(build_report_archive, archive))
    ops.emulator.drain()
    ran = Counter(invocation.function for invocation in ops.emulator.invocations)
    assert ran["HeavyWorkerFunction"] >= 1

    # WHEN the status is read from the running offpath dev
    control = ControlServer(ops.emulator).start()
    try:
        monkeypatch.chdir(tmp_path)
        write_state(control.state())
        status = _json("status")
        table = _run("status", "--once")
    finally:
        control.stop()

    # THEN each pool shows its own worker's invocations, as the emulator recorded them
    heavy, default = status["pools"]["heavy"]["worker"], status["pools"]["default"]["worker"]
    assert (heavy["function"], heavy["invocations"]) == (
        "HeavyWorkerFunction",
        ran["HeavyWorkerFunction"],
    )
    assert (default["function"], default["invocations"]) == (
        "WorkerFunction",
        ran["WorkerFunction"],
    )
    assert "offpath dev" in heavy["note"]
    assert table.exit_code == 0 and "HeavyWorkerFunction" in table.stdout
