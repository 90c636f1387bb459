"""Settings, read from the environment once per process.

Only the Lambda handlers and the CLI build :class:`Settings`; the core receives
plain values, so tests never need environment variables.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the jobs live. Endpoints come from boto3's own ``AWS_ENDPOINT_URL*``."""

    model_config = SettingsConfigDict(env_prefix="OFFPATH_", extra="ignore")

    queue_url: str = Field(description="URL of JobsQueue")
    table_name: str = Field(description="name of JobsTable")
    dlq_url: str = Field(default="", description="URL of JobsDeadLetterQueue (worker)")
    queue_arn: str = Field(default="", description="ARN of JobsQueue (one-off schedules)")
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
        default="functions.shared.tasks",
        description="comma-separated modules whose import registers the tasks",
    )
