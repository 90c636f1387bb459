"""The ``offpath`` command line (developer tool; never shipped to Lambda)."""

from __future__ import annotations

import json
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from offpath.ops import commands as ops

app = typer.Typer(
    help="offpath: serverless background jobs for FastAPI on AWS.", no_args_is_help=True
)
schedules_app = typer.Typer(help="The template's schedules.", no_args_is_help=True)
app.add_typer(schedules_app, name="schedules")
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

TemplateOption = Annotated[
    Path, typer.Option("--template", "-t", help="the SAM template", exists=True)
]


def _emulator_options(template: Path, port: int, endpoint: str | None, stack_name: str) -> Any:
    from offpath.local.emulator import EmulatorOptions

    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL")
    per_service = any(k.startswith("AWS_ENDPOINT_URL_") for k in os.environ)
    return EmulatorOptions(
        template=template.resolve(),
        api_port=port,
        endpoint=endpoint,
        use_env_endpoints=per_service and not endpoint,
        stack_name=stack_name,
    )


@app.command()
def dev(
    template: TemplateOption = Path("template.yaml"),
    port: Annotated[int, typer.Option(help="the HttpApi's port")] = 3000,
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="an AWS endpoint to use instead of the embedded moto server "
            "(e.g. a LocalStack you run); AWS_ENDPOINT_URL works too"
        ),
    ] = None,
    stack_name: Annotated[str, typer.Option(help="prefix of the local resource names")] = "offpath",
) -> None:
    """Run the whole template locally: API, queues, worker, schedules. Ctrl-C stops it."""
    from offpath.cron import ScheduleExpressionError
    from offpath.devstate import STATE_FILE, write_state
    from offpath.local.control import ControlServer
    from offpath.local.emulator import Emulator
    from offpath.local.template import TemplateError

    options = _emulator_options(template, port, endpoint, stack_name)
    emulator = Emulator(options, log=lambda line: err.print(f"[dim]{_now()}[/] {line}"))
    try:
        emulator.start()
    except (TemplateError, ScheduleExpressionError) as exc:
        emulator.stop()
        err.print(f"[red]template.yaml: {exc}[/]")
        raise typer.Exit(2) from None
    control = ControlServer(emulator).start()
    write_state(control.state())
    console.print(f"API: {emulator.api_url}")
    console.print(f"Dashboard: {control.dashboard_url}")
    console.print(f"AWS endpoint: {emulator.endpoint or '(per-service AWS_ENDPOINT_URL_*)'}")
    console.print(f"Control: {control.url}")
    for name, schedule in emulator.schedules.items():
        console.print(f"Schedule {name}: {schedule.spec.expression} next {schedule.next_at}")
    if emulator.topology_not_emulated:
        console.print(
            "Not emulated (no local effect): " + ", ".join(emulator.topology_not_emulated)
        )
    stop = threading.Event()
    # Explicit handlers: a shell starting us in the background ignores SIGINT.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        err.print("shutting down")
        control.stop()
        emulator.stop()
        STATE_FILE.unlink(missing_ok=True)


@app.command()
def invoke(
    function: Annotated[str, typer.Argument(help="the function's logical id in the template")],
    event: Annotated[Path, typer.Option("--event", "-e", exists=True, help="event JSON file")],
    template: TemplateOption = Path("template.yaml"),
) -> None:
    """Invoke one function once with an event, like `sam local invoke`.

    Runs against the running `offpath dev` if there is one, else on a fresh emulator.
    """
    from offpath.devstate import call, read_state

    payload = json.loads(event.read_text())
    state = read_state()
    if state is not None:
        try:
            result = call(state.control, "POST", f"/invoke/{function}", payload)
        except RuntimeError as exc:
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None
        console.print_json(data=result["response"])
        return
    from offpath.local.emulator import Emulator
    from offpath.local.esm import InvocationFailed

    options = _emulator_options(template, 0, None, "offpath")
    options.background = False
    with Emulator(options, log=lambda line: err.print(line)) as emulator:
        try:
            console.print_json(data=emulator.invoke(function, payload))
        except (InvocationFailed, KeyError) as exc:
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None


@schedules_app.command("fire")
def schedules_fire(name: Annotated[str, typer.Argument(help="the schedule's event name")]) -> None:
    """Fire one schedule now on the running `offpath dev`."""
    from offpath.devstate import call, read_state

    state = read_state()
    if state is None:
        err.print("[red]no running `offpath dev` found (start it first)[/]")
        raise typer.Exit(1)
    try:
        result = call(state.control, "POST", f"/schedules/{name}/fire", {})
    except RuntimeError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print_json(data=result["response"])


@schedules_app.command("list")
def schedules_list(
    template: TemplateOption = Path("template.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    count: Annotated[int, typer.Option(help="fire times to show")] = 3,
    after: Annotated[
        datetime | None, typer.Option(help="compute from this UTC instant instead of now")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="AWS endpoint whose Scheduler holds one-off schedules")
    ] = None,
) -> None:
    """Each schedule: name, expression, time zone, target task, next fire times.

    One-off schedules of delayed jobs are read from EventBridge Scheduler: the running
    `offpath dev`'s, or the endpoint given.
    """
    from offpath.cron import ScheduleExpressionError
    from offpath.local.schedule_list import list_schedules
    from offpath.local.template import TemplateError

    now = (after.replace(tzinfo=UTC) if after and after.tzinfo is None else after) or (
        datetime.now(UTC)
    )
    try:
        rows = list_schedules(template, now, count=count, one_offs=_one_offs(template, endpoint))
    except (TemplateError, ScheduleExpressionError) as exc:
        err.print(f"[red]{template}: {exc}[/]")
        raise typer.Exit(2) from None
    if as_json:
        console.print_json(data=rows)
        return
    table = Table("name", "kind", "expression", "time zone", "task", "next fire times (UTC)")
    for row in rows:
        table.add_row(
            row["name"],
            row["kind"],
            row["expression"],
            row["timezone"] or "UTC",
            row["task"] or "-",
            "\n".join(row["next"]),
        )
    console.print(table)


def _one_offs(template: Path, endpoint: str | None) -> list[Any]:
    """One-off schedules from the Scheduler of `offpath dev` (or ``endpoint``)."""
    from offpath.devstate import read_state

    if endpoint is None:
        state = read_state()
        if state is None:
            return []
        endpoint = state.endpoint
    import boto3

    from offpath.local.schedules import list_one_offs
    from offpath.local.topology import read_topology

    groups = list(read_topology(template).schedule_groups.values())
    client = boto3.client(
        "scheduler",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 -- local emulator
    )
    return list_one_offs(client, groups)


# Operating the jobs, on `offpath dev` or a deployed stack (--stack-name): ops/commands.py.
app.add_typer(ops.dlq_app, name="dlq")
app.add_typer(ops.jobs_app, name="jobs")
app.command()(ops.status)
app.command()(ops.enqueue)


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S")


def main() -> None:
    app()
