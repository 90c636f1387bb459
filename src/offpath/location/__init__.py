"""Where the jobs live: the job table, the pools (a queue, its DLQ, its worker), schedules.

One frozen value, :class:`Location`, found in one order:

1. **Explicit settings**: the ``OFFPATH_*`` environment (:func:`from_environment`),
   which ``template.yaml`` gives every function, and which a shell may export.
2. **A deployed stack**: its template and resources, read from CloudFormation
   (:func:`offpath.location.stack.from_stack`).
3. **template.yaml**: what it declares, as ``offpath dev`` or the test harness
   created it (:func:`offpath.location.layout.discover`, bound to the local names).

Nothing here knows the example app's names. A template's pools are discovered by
rule: a function with an SQS event is a worker, the queue it names is its pool's
queue, and that queue's ``RedrivePolicy`` target is the pool's dead-letter queue.
The table is the one the functions' ``OFFPATH_TABLE_NAME`` names, or the template's
only ``AWS::DynamoDB::Table``.

Example:
    >>> location = from_environment({
    ...     "OFFPATH_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
    ...     "OFFPATH_TABLE_NAME": "jobs",
    ... })
    >>> location.pool().queue_arn
    'arn:aws:sqs:eu-west-1:123456789012:jobs'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from offpath.errors import ConfigurationError

DEFAULT_POOL = "default"
DEFAULT_SCHEDULE_GROUP = "default"  # EventBridge Scheduler's own default group

# The explicit settings, as the template's Globals set them for every function.
QUEUE_URL = "OFFPATH_QUEUE_URL"
QUEUE_ARN = "OFFPATH_QUEUE_ARN"
DLQ_URL = "OFFPATH_DLQ_URL"
DLQ_ARN = "OFFPATH_DLQ_ARN"
TABLE_NAME = "OFFPATH_TABLE_NAME"
WORKER_FUNCTION = "OFFPATH_WORKER_FUNCTION"
SCHEDULE_GROUP = "OFFPATH_SCHEDULER_GROUP"
SCHEDULER_ROLE_ARN = "OFFPATH_SCHEDULER_ROLE_ARN"
SCHEDULER_DLQ_ARN = "OFFPATH_SCHEDULER_DLQ_ARN"
# The pools besides the default, for every function that sends to them (producers,
# and workers forwarding a job to its own pool): a JSON object,
# {"<pool>": {"queue_url": ..., "dlq_url": ...}}. The pool's name is its worker's
# OFFPATH_POOL; tests/template checks the two agree with the template's pools.
POOLS = "OFFPATH_POOLS"
REQUIRED = (QUEUE_URL, TABLE_NAME)
SETTINGS = (
    QUEUE_URL,
    QUEUE_ARN,
    DLQ_URL,
    DLQ_ARN,
    TABLE_NAME,
    WORKER_FUNCTION,
    SCHEDULE_GROUP,
    SCHEDULER_ROLE_ARN,
    SCHEDULER_DLQ_ARN,
    POOLS,
)

# https://sqs.<region>.amazonaws.com/<account>/<name>, or an emulator's
# http://127.0.0.1:4566/<account>/<name> (no region in it).
_QUEUE_URL = re.compile(r"^https?://(?P<host>[^/]+)/(?P<account>[0-9]{12})/(?P<name>[^/]+)/?$")
_SQS_HOST = re.compile(r"^sqs\.(?P<region>[a-z0-9-]+)\.")


class LocationNotFound(ConfigurationError):
    """Nothing says where the jobs live, or what says it is incomplete."""


@dataclass(frozen=True)
class PoolLocation:
    """A pool: a queue, its dead-letter queue, and the worker function that consumes it.

    Attributes:
        name: the pool's name (``"default"`` unless the template names more).
        queue_url: where jobs are sent.
        queue_arn: the same queue, for EventBridge Scheduler targets.
        dlq_url: where dead jobs go ("" when the queue has no redrive target).
        dlq_arn: the same dead-letter queue's ARN ("" likewise).
        function: the worker function: its logical id in a template (``offpath dev``
            and the test harness run functions by logical id), its physical name in
            a deployed stack, "" when unknown (explicit settings may leave it out).
    """

    name: str
    queue_url: str
    queue_arn: str
    dlq_url: str = ""
    dlq_arn: str = ""
    function: str = ""

    @property
    def queue_name(self) -> str:
        return self.queue_url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def dlq_name(self) -> str:
        return self.dlq_url.rstrip("/").rsplit("/", 1)[-1] if self.dlq_url else ""


@dataclass(frozen=True)
class Location:
    """Where the jobs live: one table, one or more pools, the one-off schedules' group.

    Attributes:
        table_name: the DynamoDB table of job records.
        pools: pool name -> :class:`PoolLocation`; never empty.
        default_pool: the pool jobs go to unless told otherwise.
        schedule_group: EventBridge Scheduler group for delays over 15 minutes.
        scheduler_role_arn: the role Scheduler assumes to send to the queue ("" when
            the stack has none: long delays are then refused).
        scheduler_dlq_arn: where Scheduler sends a delivery it could not make.
    """

    table_name: str
    pools: Mapping[str, PoolLocation]
    default_pool: str = DEFAULT_POOL
    schedule_group: str = DEFAULT_SCHEDULE_GROUP
    scheduler_role_arn: str = ""
    scheduler_dlq_arn: str = ""

    def __post_init__(self) -> None:
        if not self.table_name:
            raise LocationNotFound(f"no job table ({TABLE_NAME})")
        if self.default_pool not in self.pools:
            known = ", ".join(sorted(self.pools)) or "none"
            raise LocationNotFound(f"no pool {self.default_pool!r} (pools: {known})")
        # A read-only copy: a frozen value must not change under the code holding it.
        object.__setattr__(self, "pools", MappingProxyType(dict(self.pools)))

    def pool(self, name: str | None = None) -> PoolLocation:
        """The pool called ``name`` (the default pool when None).

        Raises:
            LocationNotFound: no pool has that name.
        """
        chosen = self.default_pool if name is None else name
        try:
            return self.pools[chosen]
        except KeyError:
            known = ", ".join(sorted(self.pools))
            raise LocationNotFound(f"no pool {chosen!r} (pools: {known})") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "table_name": self.table_name,
            "default_pool": self.default_pool,
            "schedule_group": self.schedule_group,
            "scheduler_role_arn": self.scheduler_role_arn,
            "scheduler_dlq_arn": self.scheduler_dlq_arn,
            "pools": {
                name: {
                    "queue_url": pool.queue_url,
                    "queue_arn": pool.queue_arn,
                    "dlq_url": pool.dlq_url,
                    "dlq_arn": pool.dlq_arn,
                    "function": pool.function,
                }
                for name, pool in self.pools.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Location:
        """The value :meth:`to_json` wrote.

        Raises:
            LocationNotFound: the data is not a location.
        """
        try:
            return cls(
                table_name=str(data["table_name"]),
                pools={
                    str(name): PoolLocation(name=str(name), **{k: str(v) for k, v in p.items()})
                    for name, p in data["pools"].items()
                },
                default_pool=str(data.get("default_pool", DEFAULT_POOL)),
                schedule_group=str(data.get("schedule_group", DEFAULT_SCHEDULE_GROUP)),
                scheduler_role_arn=str(data.get("scheduler_role_arn", "")),
                scheduler_dlq_arn=str(data.get("scheduler_dlq_arn", "")),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise LocationNotFound(f"not a location: {exc}") from exc


def is_explicit(environ: Mapping[str, str]) -> bool:
    """Whether the environment says anything about where the jobs live."""
    return any(environ.get(name) for name in SETTINGS)


def from_environment(environ: Mapping[str, str], *, region: str | None = None) -> Location:
    """The location the ``OFFPATH_*`` settings give: the ``default`` pool, and the
    pools of ``OFFPATH_POOLS``.

    ARNs left out are derived from the queue URLs (account and name are in the URL;
    the region too, on AWS; ``region`` or ``AWS_REGION`` otherwise).

    Raises:
        LocationNotFound: a required setting is missing; the message names it.
    """
    missing = [name for name in REQUIRED if not environ.get(name)]
    if missing:
        raise LocationNotFound(
            f"{', '.join(missing)} not set: the OFFPATH_* settings say where the jobs live "
            f"(template.yaml sets them for each function; set {QUEUE_URL} and {TABLE_NAME} "
            "at least)"
        )
    region = region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    queue_url = environ[QUEUE_URL]
    dlq_url = environ.get(DLQ_URL, "")
    queue_arn = environ.get(QUEUE_ARN) or queue_arn_from_url(queue_url, region)
    dlq_arn = environ.get(DLQ_ARN) or (queue_arn_from_url(dlq_url, region) if dlq_url else "")
    pool = PoolLocation(
        name=DEFAULT_POOL,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        function=environ.get(WORKER_FUNCTION, ""),
    )
    pools = {DEFAULT_POOL: pool, **_pools_setting(environ.get(POOLS, ""), region)}
    return Location(
        table_name=environ[TABLE_NAME],
        pools=pools,
        schedule_group=environ.get(SCHEDULE_GROUP) or DEFAULT_SCHEDULE_GROUP,
        scheduler_role_arn=environ.get(SCHEDULER_ROLE_ARN, ""),
        scheduler_dlq_arn=environ.get(SCHEDULER_DLQ_ARN) or dlq_arn,
    )


def pools_setting(pools: Mapping[str, PoolLocation]) -> str:
    """The ``OFFPATH_POOLS`` value naming these pools (the default pool left out)."""
    return json.dumps(
        {
            name: {"queue_url": pool.queue_url, "dlq_url": pool.dlq_url}
            for name, pool in pools.items()
            if name != DEFAULT_POOL
        },
        sort_keys=True,
    )


def _pools_setting(value: str, region: str | None) -> dict[str, PoolLocation]:
    """The pools of an ``OFFPATH_POOLS`` value.

    Raises:
        LocationNotFound: not a JSON object of pools with a queue URL each.
    """
    if not value.strip():
        return {}
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise LocationNotFound(f"{POOLS} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise LocationNotFound(f"{POOLS} must be a JSON object of pools")
    pools: dict[str, PoolLocation] = {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("queue_url"), str):
            raise LocationNotFound(f"{POOLS}: pool {name!r} needs a queue_url")
        dlq_url = str(spec.get("dlq_url") or "")
        pools[str(name)] = PoolLocation(
            name=str(name),
            queue_url=spec["queue_url"],
            queue_arn=str(spec.get("queue_arn") or queue_arn_from_url(spec["queue_url"], region)),
            dlq_url=dlq_url,
            dlq_arn=str(
                spec.get("dlq_arn") or (queue_arn_from_url(dlq_url, region) if dlq_url else "")
            ),
            function=str(spec.get("function") or ""),
        )
    return pools


def queue_arn_from_url(url: str, region: str | None = None) -> str:
    """An SQS queue's ARN from its URL (SQS URLs carry the account and the name).

    Raises:
        LocationNotFound: not a queue URL, or no region to put in the ARN.
    """
    match = _QUEUE_URL.match(url)
    if match is None:
        raise LocationNotFound(f"{url!r} is not an SQS queue URL")
    host = _SQS_HOST.match(match["host"])
    region = host["region"] if host else region
    if not region:
        raise LocationNotFound(f"no region for the ARN of {url}: set AWS_REGION")
    return f"arn:{partition(region)}:sqs:{region}:{match['account']}:{match['name']}"


def partition(region: str) -> str:
    """The AWS partition of a region."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


__all__ = [
    "DEFAULT_POOL",
    "Location",
    "LocationNotFound",
    "PoolLocation",
    "from_environment",
    "is_explicit",
    "pools_setting",
    "queue_arn_from_url",
]
