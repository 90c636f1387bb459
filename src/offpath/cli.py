"""The ``offpath`` command line (developer tool; never shipped to Lambda)."""

from __future__ import annotations

import json
import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from offpath.ops import commands as ops

if TYPE_CHECKING:
    from offpath.devstate import DevState

app = typer.Typer(
    help="offpath: serverless background jobs for FastAPI on AWS.", no_args_is_help=True
)
schedules_app = typer.Typer(help="The template's schedules.", no_args_is_help=True)
app.add_typer(schedules_app, name="schedules")
clock_app = typer.Typer(help="The running `offpath dev`'s clock.", no_args_is_help=True)
app.add_typer(clock_app, name="clock")
console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

TemplateOption = Annotated[
    Path, typer.Option("--template", "-t", help="the SAM template", exists=True)
]


def _emulator_options(
    template: Path,
    port: int,
    endpoint: str | None,
    stack_name: str,
    *,
    backend: str | None = None,
    parameter_overrides: list[str] | None = None,
    env_vars: Path | None = None,
    fast: bool = False,
) -> Any:
    from offpath.local.backends import DEFAULT_BACKEND
    from offpath.local.emulator import EmulatorOptions
    from offpath.local.endpoints import Endpoints
    from offpath.local.function_env import load_env_vars
    from offpath.local.parameters import parse_parameter_overrides

    # A shell's AWS_ENDPOINT_URL means "use it"; its AWS_ENDPOINT_URL_<SERVICE> win
    # for their service, over the backend or the endpoint, for provisioning and
    # functions alike.
    shell = Endpoints.from_environment(os.environ) or Endpoints()
    return EmulatorOptions(
        template=template.resolve(),
        api_port=port,
        backend=backend or os.environ.get("OFFPATH_BACKEND") or DEFAULT_BACKEND,
        endpoint=endpoint or shell.default,
        service_endpoints=dict(shell.services),
        stack_name=stack_name,
        parameters=parse_parameter_overrides(parameter_overrides or []),
        env_vars=load_env_vars(env_vars) if env_vars else {},
        fast=fast,
        # sam local's order: a declared variable takes the shell's value over the
        # template's (docs/emulator.md).
        shell_environment=dict(os.environ),
    )


BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="the AWS backend to start: ministack (default), moto or localstack "
        "(SQS and EventBridge on LocalStack, DynamoDB and Scheduler on moto); "
        "OFFPATH_BACKEND works too",
    ),
]
ParameterOverridesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--parameter-overrides",
        help="template parameters, as sam takes them: 'Key=Value Key2=Value2' "
        "(or ParameterKey=Key,ParameterValue=Value); repeatable",
    ),
]
EnvVarsOption = Annotated[
    Path | None,
    typer.Option(
        "--env-vars",
        exists=True,
        help="a JSON file of function variables in sam local's format: "
        '{"<LogicalId>": {"NAME": "value"}, "Parameters": {...}}; it wins over the '
        "shell, which wins over the template (declared variables only)",
    ),
]
FastOption = Annotated[
    bool,
    typer.Option(
        "--fast",
        help="run every function on the development environment (quicker to start; "
        "a package missing from a function's build then imports anyway)",
    ),
]


@app.command()
def dev(
    template: TemplateOption = Path("template.yaml"),
    port: Annotated[int, typer.Option(help="the HttpApi's port")] = 3000,
    backend: BackendOption = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="an AWS endpoint already running, for every service, instead of starting "
            "a backend (AWS_ENDPOINT_URL works too; AWS_ENDPOINT_URL_<SERVICE> per service)"
        ),
    ] = None,
    stack_name: Annotated[str, typer.Option(help="prefix of the local resource names")] = "offpath",
    parameter_overrides: ParameterOverridesOption = None,
    env_vars: EnvVarsOption = None,
    fast: FastOption = False,
) -> None:
    """Run the whole template locally: API, queues, worker, schedules. Ctrl-C stops it."""
    from offpath.cron import ScheduleExpressionError
    from offpath.devstate import STATE_FILE, write_state
    from offpath.errors import ConfigurationError
    from offpath.local.control import ControlServer
    from offpath.local.emulator import Emulator

    try:
        options = _emulator_options(
            template,
            port,
            endpoint,
            stack_name,
            backend=backend,
            parameter_overrides=parameter_overrides,
            env_vars=env_vars,
            fast=fast,
        )
        # Before anything runs: a task whose timeout cannot fit its pool is refused.
        from offpath.local.fit_check import check_template_fit

        unchecked = check_template_fit(options.template, options.parameters)
        if unchecked:
            err.print(f"[yellow]{unchecked}[/]")
    except ConfigurationError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    emulator = Emulator(options, log=lambda line: err.print(f"[dim]{_now()}[/] {line}"))
    try:
        emulator.start()
    except (ConfigurationError, ScheduleExpressionError) as exc:
        emulator.stop()
        err.print(f"[red]{template}: {exc}[/]")
        raise typer.Exit(2) from None
    control = ControlServer(emulator).start()
    write_state(control.state())
    _print_started(emulator, control.url, control.dashboard_url)
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


def _print_started(emulator: Any, control_url: str, dashboard_url: str) -> None:
    backend = emulator.backend.name if emulator.backend is not None else "given endpoints"
    console.print(f"API: {emulator.api_url}")
    console.print(f"Dashboard: {dashboard_url}")
    console.print(f"AWS endpoint: {emulator.endpoints.describe()} ({backend})")
    console.print(f"Control: {control_url}")
    for name, runtime in emulator.runtimes.items():
        console.print(f"Function {name}: {runtime.description}")
    for name, schedule in emulator.schedules.items():
        console.print(f"Schedule {name}: {schedule.spec.expression} next {schedule.next_at}")
    if emulator.topology_not_emulated:
        console.print(
            "Not emulated (no local effect): " + ", ".join(emulator.topology_not_emulated)
        )


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
    # One-offs are delayed jobs' schedules: the running `offpath dev`'s (or --endpoint's).
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
        # The Scheduler's own endpoint, where services are on several backends.
        endpoint = state.endpoints.get("AWS_ENDPOINT_URL_SCHEDULER") or state.endpoint
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


@clock_app.command("advance")
def clock_advance(
    duration: Annotated[str, typer.Argument(help="how far: 3d, 2h30m, 90m, 45s or seconds")],
) -> None:
    """Move the running `offpath dev`'s clock forward: SQS visibility and delays, job
    leases and due times, schedules and retries all see the new time."""
    from offpath.devstate import call
    from offpath.local.parameters import ParameterError, parse_duration

    try:
        seconds = parse_duration(duration)
    except ParameterError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    result = call(_running().control, "POST", "/clock", {"advance_s": seconds})
    console.print_json(data=result)


@clock_app.command("status")
def clock_status() -> None:
    """The running `offpath dev`'s time, and how far it runs ahead of the wall clock."""
    from offpath.devstate import call

    console.print_json(data=call(_running().control, "GET", "/clock"))


def _running() -> DevState:
    from offpath.devstate import read_state

    state = read_state()
    if state is None:
        err.print("[red]no running `offpath dev` found (start it first)[/]")
        raise typer.Exit(1)
    return state


@app.command("sam-env")
def sam_env(
    template: TemplateOption = Path("template.yaml"),
    output: Annotated[
        Path, typer.Option("--output", "-o", help="where to write the --env-vars file")
    ] = Path(".offpath/sam-env.json"),
    host: Annotated[
        str,
        typer.Option(
            help="how a container reaches this machine: host.docker.internal (Docker "
            "Desktop; on Linux add --add-host or use 127.0.0.1 with "
            "sam's --docker-network host)"
        ),
    ] = "host.docker.internal",
) -> None:
    """Write the --env-vars file that points `sam local invoke` / `start-api` at the
    running `offpath dev`'s queues, table and AWS endpoint, from inside a container."""
    from offpath.local.sam_env import sam_env_vars

    state = _running()
    env_vars, missing = sam_env_vars(template, state, host)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(env_vars, indent=2) + "\n")
    console.print(f"wrote {output}: sam local invoke --env-vars {output} ...")
    for function, names in missing.items():
        err.print(
            f"[yellow]{function} does not declare {', '.join(names)}: sam local passes only "
            "declared variables, so its AWS calls would go to AWS. Declare them in the "
            "template (e.g. AWS_ENDPOINT_URL: !If [IsLocal, !Ref LocalEndpoint, "
            "!Ref AWS::NoValue]); see the README[/]"
        )


# Operating the jobs, on `offpath dev` or a deployed stack (--stack-name): ops/commands.py.
app.add_typer(ops.dlq_app, name="dlq")
app.add_typer(ops.jobs_app, name="jobs")
app.command()(ops.status)
app.command()(ops.enqueue)
app.command()(ops.load)


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S")


def main() -> None:
    app()
