"""The operator commands: ``offpath dlq``, ``status``, ``jobs``, ``enqueue``.

Registered on the ``offpath`` app by :mod:`offpath.cli`. Each resolves its target
(:mod:`offpath.ops.target`), makes one call into an engine, and renders the result;
``--json`` output goes to stdout, progress bars and errors to stderr. The engines are
imported inside the commands: boto3 and pydantic would otherwise add over a second
to every ``offpath`` start, ``offpath dev`` and shell completion included.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from offpath.errors import JobNotFound, OffpathError

if TYPE_CHECKING:
    from offpath.ops.dlq import DeadLetters
    from offpath.ops.messages import RedriveResult
    from offpath.ops.target import Target
    from offpath.producer import Enqueued
    from offpath.store import DynamoDBJobStore
    from offpath.tasks import Task, TaskRegistry

dlq_app = typer.Typer(
    help="The dead-letter queue: list, show, redrive, purge.", no_args_is_help=True
)
jobs_app = typer.Typer(help="Job records in the job table.", no_args_is_help=True)
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

StackName = Annotated[
    str | None,
    typer.Option("--stack-name", help="a deployed stack; its Outputs name the resources"),
]
Profile = Annotated[str | None, typer.Option(help="AWS profile (with --stack-name)")]
Region = Annotated[str | None, typer.Option(help="AWS region (with --stack-name)")]
Template = Annotated[
    Path,
    typer.Option(
        "--template",
        "-t",
        help="the SAM template; enqueue reads the worker's OFFPATH_TASK_MODULES from it "
        "when neither the environment nor a running offpath dev gives them",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]


def _target(
    stack_name: str | None, profile: str | None, region: str | None, template: Path
) -> Target:
    from offpath.ops.target import TargetOptions, resolve_target

    return resolve_target(TargetOptions(stack_name, profile, region, template), os.environ)


def _store(target: Target) -> DynamoDBJobStore:
    from offpath.store import DynamoDBJobStore

    return DynamoDBJobStore(target.clients.dynamodb, target.table_name)


def _dead_letters(target: Target, pool: str | None = None) -> DeadLetters:
    from offpath.ops.dlq import DeadLetters

    return DeadLetters(target.clients.sqs, _dlq_url(target, pool), _store(target))


def _dlq_url(target: Target, pool: str | None) -> str:
    """The dead-letter queue of a pool (the default pool's when None).

    Raises:
        TargetNotFound: no such pool, or its queue has no dead-letter queue.
    """
    from offpath.ops.errors import TargetNotFound

    if pool is None:
        return target.dlq_url
    try:
        chosen = target.location.pool(pool)
    except OffpathError as exc:
        raise TargetNotFound(str(exc)) from None
    if not chosen.dlq_url:
        raise TargetNotFound(f"pool {pool} ({chosen.queue_name}) has no dead-letter queue")
    return chosen.dlq_url


PoolOption = Annotated[
    str | None,
    typer.Option("--pool", help="the pool whose dead-letter queue (default: the default pool)"),
]


@contextmanager
def _reported() -> Iterator[None]:
    """Our errors as one red line and exit status 1, not a traceback."""
    try:
        yield
    except OffpathError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from None


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar on stderr, driven by an engine's ``(done, total)`` callback."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as progress:
        bar = progress.add_task(label, total=None)

        def tick(done: int, total: int | None) -> None:
            progress.update(bar, completed=done, total=total)

        yield tick


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


# ---------------------------------------------------------------------- dlq
@dlq_app.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(min=1, help="most messages to show")] = 100,
    as_json: AsJson = False,
    pool: PoolOption = None,
    stack_name: StackName = None,
    profile: Profile = None,
    region: Region = None,
    template: Template = Path("template.yaml"),
) -> None:
    """Each message: job id, task, attempts, last error, first attempt, when it died.

    SQS has no read-only view: messages are received (hidden for at most 30 s) and
    made visible again as soon as the list is read.
    """
    from offpath.ops.render import dead_letter_table

    with _reported():
        target = _target(stack_name, profile, region, template)
        messages = _dead_letters(target, pool).peek(limit)
    if as_json:
        _print_json([m.to_json() for m in messages])
        return
    console.print(dead_letter_table(messages, _dlq_url(target, pool)))


@dlq_app.command("show")
def dlq_show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="a job id or a message id")],
    as_json: AsJson = False,
    pool: PoolOption = None,
    stack_name: StackName = None,
    profile: Profile = None,
    region: Region = None,
    template: Template = Path("template.yaml"),
) -> None:
    """One dead-lettered job: why it died, its attributes and its body."""
    from offpath.ops.render import dead_message_view

    with _reported():
        target = _target(stack_name, profile, region, template)
        found = _dead_letters(target, pool).find(ident)
    if as_json:
        _print_json([m.to_json() for m in found])
        return
    for message in found:
        console.print(dead_message_view(message))


@dlq_app.command("redrive")
def dlq_redrive(
    ids: Annotated[
        list[str] | None, typer.Argument(metavar="ID...", help="job ids or message ids")
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="every message")] = False,
    to: Annotated[
        str | None,
        typer.Option(help="destination queue, URL or name (default: the pool's own queue)"),
    ] = None,
    as_json: AsJson = False,
    pool: PoolOption = None,
    stack_name: StackName = None,
    profile: Profile = None,
    region: Region = None,
    template: Template = Path("template.yaml"),
) -> None:
    """Send dead jobs back to run again; their records are reset to queued first."""
    if bool(ids) == everything:
        err.print("[red]name the messages (job or message ids) or pass --all, not both[/]")
        raise typer.Exit(2)
    from offpath.ops.target import queue_url_for

    with _reported():
        target = _target(stack_name, profile, region, template)
        # By default, back to the pool's own queue (the DLQ's source).
        own = target.location.pool(pool).queue_url if pool else target.queue_url
        destination = queue_url_for(target.clients, to) if to else own
        with progress_bar("redrive") as tick:
            result = _dead_letters(target, pool).redrive(
                None if everything else ids, to_url=destination, on_progress=tick
            )
    if as_json:
        _print_json(result.to_json())
    else:
        _print_redrive(result)
    if result.not_found or result.not_sent:
        raise typer.Exit(1)


def _print_redrive(result: RedriveResult) -> None:
    from offpath.ops.messages import RedriveMethod

    how = (
        f"SQS move task {result.task_handle}"
        if result.method is RedriveMethod.MOVE_TASK
        else "receive, send, delete"
    )
    console.print(f"Moved {result.moved} message(s) to {result.destination_url} ({how}).")
    records = Counter(result.records.values())
    if records:
        parts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(records.items()))
        console.print(f"Job records: {parts}.")
    finished = records["succeeded"] + records["cancelled"] + records["running"]
    warnings = [
        (finished, "job(s) had already finished or were running: not run again"),
        (result.not_sent, "message(s) refused by SQS: still in the DLQ"),
        (result.not_deleted, "message(s) moved but not deleted: a copy is still in the DLQ"),
        (result.moved_without_reset, "message(s) reached the DLQ during the move, record dead"),
    ]
    for count, text in warnings:
        if count:
            err.print(f"[yellow]{count} {text}[/]")
    if result.not_found:
        err.print(f"[red]not in the dead-letter queue: {', '.join(result.not_found)}[/]")


@dlq_app.command("purge")
def dlq_purge(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    pool: PoolOption = None,
    stack_name: StackName = None,
    profile: Profile = None,
    region: Region = None,
    template: Template = Path("template.yaml"),
) -> None:
    """Delete every message of the dead-letter queue (their jobs stay dead)."""
    from offpath.ops.status import queue_counts

    with _reported():
        target = _target(stack_name, profile, region, template)
        dlq_url = _dlq_url(target, pool)
        waiting = queue_counts(target.clients.sqs, dlq_url).total
        if not yes:
            typer.confirm(
                f"Delete all {waiting} message(s) of {dlq_url}? This cannot be undone",
                abort=True,
            )
        purged = _dead_letters(target, pool).purge()
    console.print(f"Purged {purged} message(s) from {dlq_url}.")


# ---------------------------------------------------------------------- status
def status(
    as_json: AsJson = False,
    once: Annotated[bool, typer.Option("--once", help="print the table once")] = False,
    interval_s: Annotated[
        float, typer.Option("--interval", min=0.5, help="seconds between refreshes")
    ] = 2.0,
    stack_name: StackName = None,
    profile: Profile = None,
    region: Region = None,
    template: Template = Path("template.yaml"),
) -> None:
    """Queue depth, in flight, delayed, oldest job's age, DLQ depth, jobs by status.

    Refreshes every 2 s until Ctrl-C; --json or --once print one reading.
    """
    from rich.live import Live

    from offpath.ops.render import status_view
    from offpath.ops.status import StatusReader

    with _reported():
        reader = StatusReader.for_target(_target(stack_name, profile, region, template))
        report = reader.read()
    if as_json:
        _print_json(report.to_json())
        return
    if once:
        console.print(status_view(report))
        return
    with Live(status_view(report), console=console, auto_refresh=False) as live:
        try:
            while True:
                time.sleep(interval_s)
                try:
                    live.update(status_view(reader.read()), refresh=True)
                except OffpathError as exc:  # a network blip: say so, keep watching
                    err.print(f"[red]{escape(str(exc))}[/]")
        except KeyboardInterrupt:
            pass


# ---------------------------------------------------------------------- jobs
@jobs_app.command("show")
def jobs_show(
    job_id: Annotated[str, typer.Argument(help="the job id")],
    as_json: AsJson = False,
    stack_name: StackName = None,
    profile: Profile = None,
    region: Region = None,
    template: Template = Path("template.yaml"),
) -> None:
    """A durable job's record: status, attempts, times, last error, result."""
    from offpath.ops.render import job_view

    with _reported():
        target = _target(stack_name, profile, region, template)
        try:
            job = _store(target).get(job_id)
        except JobNotFound:
            raise OffpathError(
                f"no job {job_id} in {target.table_name} (fire-and-forget jobs keep no record)"
            ) from None
    view, data = job_view(job)
    if as_json:
        _print_json(data)
    else:
        console.print(view)


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: Annotated[str, typer.Argument(help="the job id")],
    as_json: AsJson = False,
    stack_name: StackName = None,
    profile: Profile = None,
    region: Region = None,
    template: Template = Path("template.yaml"),
) -> None:
    """Cancel a job: a waiting one at once; a running one is asked to stop.

    A one-off schedule left behind fires into a job that is acknowledged unrun.
    """
    from offpath.errors import JobNotCancellable
    from offpath.ops.render import job_view

    with _reported():
        target = _target(stack_name, profile, region, template)
        try:
            job = _store(target).cancel(job_id)
        except JobNotFound:
            raise OffpathError(f"no job {job_id} in {target.table_name}") from None
        except JobNotCancellable as exc:
            raise OffpathError(str(exc)) from None
    view, data = job_view(job)
    if as_json:
        _print_json(data)
    else:
        console.print(view)


# ---------------------------------------------------------------------- enqueue
def enqueue(
    task_name: Annotated[str, typer.Argument(metavar="TASK", help="a registered task")],
    args: Annotated[str, typer.Option("--args", help="the arguments, a JSON object")] = "{}",
    delay_seconds: Annotated[
        int, typer.Option(min=0, max=900, help="SQS delay before the job is visible")
    ] = 0,
    count: Annotated[int, typer.Option(min=1, help="how many such jobs (sent 10 a call)")] = 1,
    correlation_id: Annotated[
        str | None, typer.Option(help="for the logs (default: a new cli-… id)")
    ] = None,
    callback_url: Annotated[
        str | None, typer.Option(help="POST a signed webhook here when the job ends")
    ] = None,
    as_json: AsJson = False,
    stack_name: StackName = None,
    profile: Profile = None,
    region: Region = None,
    template: Template = Path("template.yaml"),
) -> None:
    """Enqueue a task with the producer, as the API would.

    Tasks come from OFFPATH_TASK_MODULES: the environment's, else the one the
    template gives the worker (as `offpath dev` runs it, or template.yaml itself),
    imported from the current directory: run it from the project root.
    """
    from offpath.callbacks import CallbackPolicy
    from offpath.producer import BATCH_SIZE, JobRequest, Producer

    with _reported():
        arguments = _json_object(args)
        target = _target(stack_name, profile, region, template)
        task = _task(task_name, *_task_modules(target, template))
        request = JobRequest(
            task=task,
            args=task.validate(arguments),
            delay_s=delay_seconds,
            correlation_id=correlation_id or f"cli-{uuid.uuid4().hex[:16]}",
            callback_url=callback_url,
        )
        producer = Producer(
            target.clients.sqs,
            target.queue_url,
            _store(target),
            pools=target.location.pools,
            # An emulator's functions may call the developer's machine; a stack's may not.
            callback_policy=CallbackPolicy(allow_loopback=target.local),
        )
        enqueued: list[Enqueued] = []
        with progress_bar("enqueue") if count > 1 else _no_progress() as tick:
            while len(enqueued) < count:
                size = min(BATCH_SIZE, count - len(enqueued))
                enqueued.extend(producer.enqueue_many([request] * size))
                tick(len(enqueued), count)
    if as_json:
        jobs = [
            {"job_id": e.job_id, "status": str(e.status), "durable": e.durable} for e in enqueued
        ]
        _print_json({"correlation_id": request.correlation_id, "jobs": jobs})
        return
    for job in enqueued[:10]:
        console.print(f"{job.job_id} {task.name} {job.status}")
    if count > 10:
        console.print(f"... and {count - 10} more")
    console.print(
        f"Enqueued {count} job(s) to {producer.route(task)[0]}; correlation id "
        f"{request.correlation_id}"
    )


# ---------------------------------------------------------------------- load
def load(
    task_name: Annotated[str, typer.Option("--task", help="a registered task")],
    rate: Annotated[float, typer.Option(help="jobs per second")],
    duration: Annotated[float, typer.Option(help="seconds of sending (at most 3600)")],
    args: Annotated[str, typer.Option("--args", help="the arguments, a JSON object")] = "{}",
    max_jobs: Annotated[int, typer.Option(help="never more jobs than this")] = 10_000,
    wait: Annotated[
        float, typer.Option(help="seconds to watch the jobs finish after sending")
    ] = 30.0,
    i_understand_this_costs: Annotated[
        bool,
        typer.Option(
            "--i-understand-this-costs",
            help="run against a deployed stack (AWS bills every job: docs/capacity.md)",
        ),
    ] = False,
    as_json: AsJson = False,
    stack_name: StackName = None,
    profile: Profile = None,
    region: Region = None,
    template: Template = Path("template.yaml"),
) -> None:
    """Enqueue TASK at RATE jobs/s for DURATION s; report latency, queue age, completions.

    Bounded: at most --max-jobs jobs (and 100,000), 3,600 s of sending, 600 s of
    watching. A deployed stack (anything but an emulator endpoint) is refused without
    --i-understand-this-costs.
    """
    from offpath.ops.load import LoadPlan, LoadRefused, send, watch
    from offpath.producer import JobRequest, Producer

    with _reported():
        plan = LoadPlan(rate=rate, duration_s=duration, max_jobs=max_jobs, wait_s=wait)
        arguments = _json_object(args)
        target = _target(stack_name, profile, region, template)
        if not target.local and not i_understand_this_costs:
            raise LoadRefused(
                f"{target.describe()} is billed by AWS: offpath load would enqueue "
                f"{plan.total:,} job(s) there. Pass --i-understand-this-costs to run it "
                "(what a job costs: docs/capacity.md)"
            )
        task = _task(task_name, *_task_modules(target, template))
        validated = task.validate(arguments)
        correlation = f"load-{uuid.uuid4().hex[:12]}"
        store = _store(target)
        producer = Producer(
            target.clients.sqs, target.queue_url, store, pools=target.location.pools
        )

        def make(index: int) -> JobRequest:
            return JobRequest(task=task, args=validated, correlation_id=correlation)

        with progress_bar("load") as tick:
            result = send(producer, make, plan, on_progress=tick)
        result = watch(store, result, plan.wait_s)
    summary = {"task": task.name, "correlation_id": correlation, **result.summary()}
    if as_json:
        _print_json(summary)
        return
    _print_load(summary)


def _print_load(summary: dict[str, Any]) -> None:
    def spread(values: Any, unit: str) -> str:
        if not values:
            return "-"
        return f"p50 {values['p50']} {unit}, p95 {values['p95']} {unit}, max {values['max']} {unit}"

    console.print(
        f"Sent {summary['sent']} {summary['task']} job(s) in {summary['send_seconds']} s "
        f"({summary['rate_achieved']} jobs/s); correlation id {summary['correlation_id']}"
    )
    console.print(f"enqueue latency (per call): {spread(summary['enqueue_latency_ms'], 'ms')}")
    console.print(f"queue age (started - created): {spread(summary['queue_age_s'], 's')}")
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items())) or "-"
    console.print(
        f"completions: {summary['finished']} of {summary['sampled']} sampled durable job(s) "
        f"finished after {summary['watched_seconds']} s ({statuses})"
    )


@contextmanager
def _no_progress() -> Iterator[Callable[[int, int | None], None]]:
    yield lambda done, total: None


def _task_modules(target: Target, template: Path) -> tuple[list[str], str]:
    """The task modules, and where the setting came from (for the error messages).

    The environment's ``OFFPATH_TASK_MODULES`` first, then the target's (``offpath
    dev`` records the worker's), then what ``template.yaml`` gives the worker.
    """
    from offpath.location.layout import read_template, worker_environment
    from offpath.settings import TASK_MODULES, parse_task_modules

    value = os.environ.get(TASK_MODULES) or target.environment.get(TASK_MODULES)
    source = TASK_MODULES
    if not value and template.exists():
        value = worker_environment(read_template(template)).get(TASK_MODULES)
        source = f"{TASK_MODULES} in {template}"
    return parse_task_modules(value), source


def _task(name: str, modules: list[str], source: str) -> Task[Any, Any]:
    from offpath.errors import UnknownTask

    tasks = _load_tasks(modules, source)
    try:
        return tasks.get(name)
    except UnknownTask as exc:
        known = ", ".join(sorted(t.name for t in tasks)) or "none"
        raise OffpathError(f"{exc} (registered from {', '.join(modules)}: {known})") from None


def _load_tasks(modules: list[str], source: str) -> TaskRegistry:
    """Import the task modules (which register their tasks) from the working directory."""
    from offpath.runtime import import_task_modules

    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    return import_task_modules(modules, source=source, hint="run it from the project root")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise OffpathError(f"--args is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise OffpathError("--args must be a JSON object, e.g. '{\"user_id\": 42}'")
    return value
