"""Which resources of a template hold the jobs, found by rule rather than by name.

:func:`discover` reads a SAM or CloudFormation template (as parsed, intrinsics in
their long form) and returns a :class:`Layout` in logical ids:

- a **pool** for every function with an SQS event source (a SAM ``SQS`` event, or an
  ``AWS::Lambda::EventSourceMapping`` naming the function or one of its aliases, as
  SAM's ``AutoPublishAlias`` makes it): the queue it names, and that queue's
  ``RedrivePolicy`` target as the pool's dead-letter queue;
- the **table** the functions' ``OFFPATH_TABLE_NAME`` names, else the template's only
  ``AWS::DynamoDB::Table``;
- the **schedule group** and **Scheduler role** their ``OFFPATH_SCHEDULER_GROUP`` and
  ``OFFPATH_SCHEDULER_ROLE_ARN`` name, else the template's only schedule group.

A pool is called what its function's ``OFFPATH_POOL`` says; else ``default`` when it
is the only one, or when it consumes the queue the functions' ``OFFPATH_QUEUE_URL``
names; else its function's logical id. :func:`bind` then turns the layout into a
:class:`~offpath.location.Location` with the names a backend gave the resources.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from offpath.location import (
    DEFAULT_POOL,
    DEFAULT_SCHEDULE_GROUP,
    QUEUE_URL,
    SCHEDULE_GROUP,
    SCHEDULER_DLQ_ARN,
    SCHEDULER_ROLE_ARN,
    TABLE_NAME,
    Location,
    LocationNotFound,
    PoolLocation,
)

POOL_NAME = "OFFPATH_POOL"  # a worker function's own setting: the name of its pool
SAM_FUNCTION = "AWS::Serverless::Function"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
QUEUE = "AWS::SQS::Queue"
ALIAS = "AWS::Lambda::Alias"
TABLE = "AWS::DynamoDB::Table"
SCHEDULE_GROUP_TYPE = "AWS::Scheduler::ScheduleGroup"

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class PoolLayout:
    """A pool in logical ids."""

    name: str
    queue: str
    dead_letter_queue: str | None
    function: str


@dataclass(frozen=True)
class Layout:
    """Where the jobs live, in the template's logical ids."""

    table: str
    pools: dict[str, PoolLayout]
    default_pool: str
    schedule_group: str | None = None
    scheduler_role: str | None = None
    scheduler_dead_letter_queue: str | None = None

    @property
    def queues(self) -> set[str]:
        """Every queue the layout uses (pools' queues and dead-letter queues)."""
        named = {p.queue for p in self.pools.values()}
        named |= {p.dead_letter_queue for p in self.pools.values() if p.dead_letter_queue}
        return named


class Names(Protocol):
    """What a backend calls the resources it created for a template."""

    def queue_url(self, logical_id: str) -> str: ...

    def arn(self, logical_id: str) -> str: ...

    def name(self, logical_id: str) -> str: ...


def discover(template: Mapping[str, Any]) -> Layout:
    """The template's pools, table and schedule group (see the module docstring).

    Raises:
        LocationNotFound: no function consumes an SQS queue, or no table can be told
            apart; the message says what the template needs.
    """
    resources: Mapping[str, JsonDict] = template.get("Resources", {})
    environments = _environments(template)
    consumers = sorted(set(_consumers(resources)))
    if not consumers:
        raise LocationNotFound(
            "the template has no worker: no function has an SQS event source "
            "(a SAM `Type: SQS` event or an AWS::Lambda::EventSourceMapping)"
        )
    shared = _shared_environment(environments, consumers)
    pools = _pools(resources, environments, consumers, _ref(shared.get(QUEUE_URL)))
    default_pool = DEFAULT_POOL if DEFAULT_POOL in pools else sorted(pools)[0]
    default_env = environments.get(pools[default_pool].function, {})
    settings = {**shared, **default_env}
    return Layout(
        table=_table(resources, settings),
        pools=pools,
        default_pool=default_pool,
        schedule_group=_only_or_named(resources, SCHEDULE_GROUP_TYPE, settings.get(SCHEDULE_GROUP)),
        scheduler_role=_ref(settings.get(SCHEDULER_ROLE_ARN)),
        scheduler_dead_letter_queue=_ref(settings.get(SCHEDULER_DLQ_ARN)),
    )


def worker_environment(template: Mapping[str, Any], pool: str | None = None) -> dict[str, str]:
    """The literal environment variables of a pool's worker (the default pool's if None).

    What a function reads from the template, for a command that acts as the worker
    would (``offpath enqueue`` imports ``OFFPATH_TASK_MODULES`` from it). Values that
    are intrinsics (``!Ref``...) are left out: only a deployment can resolve them.
    """
    layout = discover(template)
    chosen = layout.pools.get(pool or layout.default_pool)
    if chosen is None:
        raise LocationNotFound(f"no pool {pool!r} (pools: {', '.join(sorted(layout.pools))})")
    variables = _environments(template).get(chosen.function, {})
    return {k: str(v) for k, v in variables.items() if isinstance(v, str | int | float)}


def parse_template(text: str, *, source: str = "template") -> dict[str, Any]:
    """A template's text: JSON, or YAML with CloudFormation's short tags (``!Ref``...).

    Raises:
        LocationNotFound: it cannot be parsed (YAML needs the ``dev`` extra's reader).
    """
    try:
        parsed: dict[str, Any] = json.loads(text)
        return parsed
    except ValueError:
        pass
    try:
        from cfn_tools import load_yaml  # the dev extra's reader of CloudFormation YAML
    except ImportError as exc:  # pragma: no cover - only without the dev extra
        raise LocationNotFound(f"{source} is YAML: install offpath[dev] to read it") from exc
    try:
        loaded = load_yaml(text)
    except Exception as exc:  # cfn-flip's YAML loader raises many types
        raise LocationNotFound(f"{source}: cannot parse: {exc}") from exc
    # Ordered dicts to plain dicts, and tags to their long form ({"Ref": ...}).
    plain: dict[str, Any] = json.loads(json.dumps(loaded))
    return plain


def read_template(path: Path) -> dict[str, Any]:
    """A template file, parsed (see :func:`parse_template`).

    Raises:
        LocationNotFound: the file cannot be read or parsed.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LocationNotFound(f"{path}: {exc.strerror or exc}") from exc
    return parse_template(text, source=str(path))


def bind(layout: Layout, names: Names) -> Location:
    """The :class:`Location` of a layout, with the names a backend gave its resources."""
    pools = {
        name: PoolLocation(
            name=name,
            queue_url=names.queue_url(pool.queue),
            queue_arn=names.arn(pool.queue),
            dlq_url=names.queue_url(pool.dead_letter_queue) if pool.dead_letter_queue else "",
            dlq_arn=names.arn(pool.dead_letter_queue) if pool.dead_letter_queue else "",
            function=names.name(pool.function),
        )
        for name, pool in layout.pools.items()
    }
    default = pools[layout.default_pool]
    scheduler_dlq = layout.scheduler_dead_letter_queue
    return Location(
        table_name=names.name(layout.table),
        pools=pools,
        default_pool=layout.default_pool,
        schedule_group=(
            names.name(layout.schedule_group) if layout.schedule_group else DEFAULT_SCHEDULE_GROUP
        ),
        scheduler_role_arn=names.arn(layout.scheduler_role) if layout.scheduler_role else "",
        scheduler_dlq_arn=names.arn(scheduler_dlq) if scheduler_dlq else default.dlq_arn,
    )


def _consumers(resources: Mapping[str, JsonDict]) -> Iterator[tuple[str, str]]:
    """(function, queue) for every SQS event source of the template."""
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == SAM_FUNCTION:
            for event in (props.get("Events") or {}).values():
                queue = _get_att(event.get("Properties", {}).get("Queue"))
                if event.get("Type") == "SQS" and _is(resources, queue, QUEUE):
                    yield logical_id, str(queue)
        elif kind == "AWS::Lambda::EventSourceMapping":
            queue = _get_att(props.get("EventSourceArn"))
            function = _invoked(resources, props.get("FunctionName"))
            if _is(resources, queue, QUEUE) and function in resources:
                yield str(function), str(queue)


def _invoked(resources: Mapping[str, JsonDict], name: Any) -> str | None:
    """The function a ``FunctionName`` names (``!Ref``, ``!GetAtt``), itself or through
    one of its aliases."""
    target = _ref(name) or _get_att(name)
    if _is(resources, target, ALIAS):
        alias = resources[str(target)].get("Properties") or {}
        return _ref(alias.get("FunctionName")) or _get_att(alias.get("FunctionName"))
    return target


def _pools(
    resources: Mapping[str, JsonDict],
    environments: Mapping[str, JsonDict],
    consumers: list[tuple[str, str]],
    named_queue: str | None,
) -> dict[str, PoolLayout]:
    pools: dict[str, PoolLayout] = {}
    for function, queue in consumers:
        own = environments.get(function, {}).get(POOL_NAME)
        if isinstance(own, str) and own:
            name = own
        elif len(consumers) == 1 or queue == named_queue:
            name = DEFAULT_POOL
        else:
            name = function
        if name in pools:
            raise LocationNotFound(
                f"two pools are called {name!r} ({pools[name].function} and {function}): "
                f"give each worker its own {POOL_NAME}"
            )
        pools[name] = PoolLayout(name, queue, _redrive_target(resources, queue), function)
    return pools


def _redrive_target(resources: Mapping[str, JsonDict], queue: str) -> str | None:
    redrive = (resources[queue].get("Properties") or {}).get("RedrivePolicy") or {}
    target = _get_att(redrive.get("deadLetterTargetArn")) if isinstance(redrive, dict) else None
    return target if _is(resources, target, QUEUE) else None


def _table(resources: Mapping[str, JsonDict], settings: Mapping[str, Any]) -> str:
    table = _only_or_named(resources, TABLE, settings.get(TABLE_NAME))
    if table is None:
        tables = sorted(k for k, r in resources.items() if r.get("Type") == TABLE)
        raise LocationNotFound(
            f"which table holds the job records? The template has {len(tables)} "
            f"({', '.join(tables) or 'none'}): set {TABLE_NAME}: !Ref <Table> in the "
            "functions' environment"
        )
    return table


def _only_or_named(resources: Mapping[str, JsonDict], kind: str, setting: Any) -> str | None:
    """The resource a setting names with ``!Ref``, else the template's only one of ``kind``."""
    named = _ref(setting)
    if _is(resources, named, kind):
        return named
    found = [k for k, r in resources.items() if r.get("Type") == kind]
    return found[0] if len(found) == 1 else None


def _environments(template: Mapping[str, Any]) -> dict[str, JsonDict]:
    """Each function's environment variables, SAM's Globals merged in."""
    resources: Mapping[str, JsonDict] = template.get("Resources", {})
    globals_env = _variables((template.get("Globals") or {}).get("Function") or {})
    found: dict[str, JsonDict] = {}
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind == SAM_FUNCTION:
            found[logical_id] = {**globals_env, **_variables(resource.get("Properties") or {})}
        elif kind == LAMBDA_FUNCTION:
            found[logical_id] = _variables(resource.get("Properties") or {})
    return found


def _shared_environment(
    environments: Mapping[str, JsonDict], consumers: list[tuple[str, str]]
) -> JsonDict:
    """Settings every function may read: the workers' first, then any function's."""
    merged: JsonDict = {}
    workers = [function for function, _ in consumers]
    others = sorted(set(environments) - set(workers))
    for function in [*reversed(others), *reversed(workers)]:
        merged.update(environments.get(function, {}))
    return merged


def _variables(props: Mapping[str, Any]) -> JsonDict:
    variables = (props.get("Environment") or {}).get("Variables") or {}
    return dict(variables) if isinstance(variables, dict) else {}


def _is(resources: Mapping[str, JsonDict], logical_id: str | None, kind: str) -> bool:
    return logical_id is not None and resources.get(logical_id, {}).get("Type") == kind


def _ref(value: Any) -> str | None:
    """X of ``{"Ref": "X"}``, or X of ``{"Fn::GetAtt": "X.Arn"}`` for ARN settings."""
    if isinstance(value, dict) and len(value) == 1:
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        return _get_att(value)
    return None


def _get_att(value: Any) -> str | None:
    """X of ``{"Fn::GetAtt": ["X", "Arn"]}`` or ``{"Fn::GetAtt": "X.Arn"}``."""
    if not isinstance(value, dict) or "Fn::GetAtt" not in value:
        return None
    target = value["Fn::GetAtt"]
    if isinstance(target, str):
        return target.split(".", 1)[0]
    if isinstance(target, list) and target and isinstance(target[0], str):
        return target[0]
    return None
