"""The one place AWS clients are built.

boto3 resolves ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` itself, so the
same code talks to AWS, moto's server or LocalStack without a flag of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sqs import SQSClient

# Standard retry mode backs off on throttling (SQS, DynamoDB) with jitter; short
# timeouts keep a hung connection from eating the Lambda's whole budget.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=3,
    read_timeout=10,
    tcp_keepalive=True,
)


@dataclass
class Clients:
    """Lazily built clients sharing one session: build once per container."""

    region: str
    endpoint_url: str | None = None  # None: boto3's own resolution (AWS_ENDPOINT_URL*, AWS)
    session: boto3.session.Session | None = None
    # Per service (boto3 client name -> URL), over endpoint_url: `offpath dev` on
    # several backends at once (LocalStack's SQS beside moto's DynamoDB).
    service_endpoints: Mapping[str, str] = field(default_factory=dict)

    def _session(self) -> boto3.session.Session:
        if self.session is None:
            self.session = boto3.session.Session(region_name=self.region)
        return self.session

    def endpoint_for(self, service: str) -> str | None:
        return self.service_endpoints.get(service, self.endpoint_url)

    @cached_property
    def sqs(self) -> SQSClient:
        return self._session().client(
            "sqs", config=CLIENT_CONFIG, endpoint_url=self.endpoint_for("sqs")
        )

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return self._session().client(
            "dynamodb", config=CLIENT_CONFIG, endpoint_url=self.endpoint_for("dynamodb")
        )

    @cached_property
    def scheduler(self) -> EventBridgeSchedulerClient:
        return self._session().client(
            "scheduler", config=CLIENT_CONFIG, endpoint_url=self.endpoint_for("scheduler")
        )
