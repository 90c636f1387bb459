"""Settings, read from the environment once per process.

Only the Lambda handlers and the CLI build :class:`Settings`; the core receives
plain values, so tests never need environment variables. Every setting is an
``OFFPATH_*`` variable, which ``template.yaml`` sets for each function (Globals).

A pydantic model that reads the environment itself, rather than pydantic-settings:
that package's import (its sources, dotenv) cost every cold start about 75 ms for
eight strings and a number. The rules are the ones it applied here: a keyword
argument beats the variable, variable names match whatever their case, unknown
variables are ignored, and the values go through the same validation (so the same
errors).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from offpath.errors import ConfigurationError
from offpath.location import Location, from_environment

if TYPE_CHECKING:
    from offpath.callbacks import CallbackPolicy

TASK_MODULES = "OFFPATH_TASK_MODULES"
ENV_PREFIX = "OFFPATH_"


class Settings(BaseModel):
    """Where the jobs live, which modules define the tasks, how long records last.

    Endpoints come from boto3's own ``AWS_ENDPOINT_URL*``.
    """

    model_config = ConfigDict(extra="ignore")

    queue_url: str = Field(default="", description="URL of the pool's queue (required)")
    table_name: str = Field(default="", description="name of the job table (required)")
    dlq_url: str = Field(default="", description="URL of the queue's dead-letter queue (worker)")
    queue_arn: str = Field(default="", description="ARN of the queue (default: from its URL)")
    dlq_arn: str = Field(default="", description="ARN of the dead-letter queue (default: from URL)")
    pool: str = Field(
        default="default", description="the pool this function works for (a worker's own)"
    )
    pools: str = Field(default="", description="the other pools, JSON (see offpath.location)")
    async_concurrency: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="a worker's most async jobs of one batch running at once (1: one at a time)",
    )
    scheduler_group: str = Field(default="default")
    scheduler_role_arn: str = Field(default="")
    scheduler_dlq_arn: str = Field(default="")
    region: str = Field(
        default="us-east-1",
        validation_alias="AWS_REGION",
        description="AWS region; Lambda sets AWS_REGION",
    )
    job_ttl_s: int = Field(default=14 * 24 * 3600, gt=0, description="job record lifetime")
    task_modules: str = Field(
        default="",
        description="comma-separated modules whose import registers the tasks (required "
        "wherever tasks run or are enqueued by name)",
    )
    webhook_secret_arn: str = Field(
        default="",
        description="Secrets Manager secret (ARN or name) that signs completion webhooks; "
        "empty: no webhooks are delivered (worker)",
    )
    webhook_allowed_hosts: str = Field(
        default="",
        description="comma-separated host names callback URLs may name; empty: any public host",
    )
    events_bus: str = Field(
        default="",
        description="EventBridge bus for offpath.job.* events (template JobEvents); "
        "empty: none are published",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="local development only: http:// and loopback callback URLs allowed "
        "(offpath dev and offpath.testing set it)",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        """Fill what the caller did not give from the environment."""
        if not isinstance(data, dict):
            return data
        return {**environment_values(cls, os.environ), **data}

    def location(self) -> Location:
        """Where the jobs live, from these settings (explicit settings, tier 1).

        Raises:
            LocationNotFound: ``OFFPATH_QUEUE_URL`` or ``OFFPATH_TABLE_NAME`` is not set.
        """
        return from_environment(
            {
                "OFFPATH_QUEUE_URL": self.queue_url,
                "OFFPATH_QUEUE_ARN": self.queue_arn,
                "OFFPATH_DLQ_URL": self.dlq_url,
                "OFFPATH_DLQ_ARN": self.dlq_arn,
                "OFFPATH_TABLE_NAME": self.table_name,
                "OFFPATH_SCHEDULER_GROUP": self.scheduler_group,
                "OFFPATH_SCHEDULER_ROLE_ARN": self.scheduler_role_arn,
                "OFFPATH_SCHEDULER_DLQ_ARN": self.scheduler_dlq_arn,
                "OFFPATH_POOLS": self.pools,
            },
            region=self.region,
        )

    def callback_policy(self) -> CallbackPolicy:
        """Where completion webhooks may go (:mod:`offpath.callbacks`)."""
        from offpath.callbacks import CallbackPolicy

        hosts = frozenset(
            h.strip().lower() for h in self.webhook_allowed_hosts.split(",") if h.strip()
        )
        return CallbackPolicy(allowed_hosts=hosts, allow_loopback=self.webhook_allow_loopback)

    def task_module_names(self) -> list[str]:
        """The modules of ``OFFPATH_TASK_MODULES``, in order.

        Raises:
            ConfigurationError: the setting is missing or empty; the message names it.
        """
        return parse_task_modules(self.task_modules)


def parse_task_modules(value: str | None, *, source: str = TASK_MODULES) -> list[str]:
    """Module names from a comma-separated setting.

    Raises:
        ConfigurationError: nothing is named; the message says which setting to set.
    """
    modules = [m.strip() for m in (value or "").split(",") if m.strip()]
    if not modules:
        raise ConfigurationError(
            f"{source} is not set: name the modules whose import registers your tasks, "
            f"comma-separated (e.g. {TASK_MODULES}=app.tasks); template.yaml sets it for "
            "each function in Globals > Function > Environment"
        )
    return modules


def environment_values(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, str]:
    """Each field's variable found in ``environ`` (``OFFPATH_<FIELD>``, or its alias).

    Names match whatever their case, as on pydantic-settings' default.
    """
    by_upper = {name.upper(): value for name, value in environ.items()}
    found: dict[str, str] = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        variable = alias if isinstance(alias, str) else ENV_PREFIX + name
        if variable.upper() in by_upper:
            found[variable if isinstance(alias, str) else name] = by_upper[variable.upper()]
    return found
