"""What the end-to-end suite runs against: an ``offpath dev`` or a deployed stack.

Both are one :class:`Target`: a base URL for the HTTP API, boto3 clients for the
queues and the table, and a way to invoke SchedulerFunction with a tick. A deployed
stack's come from its CloudFormation outputs (``DescribeStacks``); the routes behind
``AWS_IAM`` (``POST /jobs``, ``DELETE /jobs/{id}``) are signed with SigV4 from the
session's credentials, for ``offpath dev`` too (it does not check them), so the
requests are the same everywhere. Only the endpoints differ.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from offpath.store import DynamoDBJobStore

# The outputs of template.yaml the suite reads.
OUTPUTS = ("ApiUrl", "JobsQueueUrl", "DeadLetterQueueUrl", "JobsTableName", "SchedulerFunctionName")
IAM_ROUTES = (("POST", "/jobs"), ("DELETE", "/jobs/"))
FINAL = {"succeeded", "dead", "cancelled"}


@dataclass
class Target:
    name: str
    api_url: str  # ends with "/"
    region: str
    sqs: Any
    dynamodb: Any
    queue_url: str
    dlq_url: str
    table_name: str
    invoke_scheduler: Callable[[dict[str, Any]], dict[str, Any]]
    credentials: Any  # botocore credentials (access_key, secret_key, token); None: unsigned
    timeout_s: float = 60.0  # how long a job may take to reach a final state

    @property
    def store(self) -> DynamoDBJobStore:
        return DynamoDBJobStore(self.dynamodb, self.table_name)

    # ------------------------------------------------------------------ HTTP
    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        url = self.api_url.rstrip("/") + path
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {"content-type": "application/json", **(headers or {})}
        if self._signed(method, path) and self.credentials is not None:
            all_headers = self._sign(method, url, data, all_headers)
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310 -- the target's own API
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    @staticmethod
    def _signed(method: str, path: str) -> bool:
        return any(method == m and path.startswith(p) for m, p in IAM_ROUTES)

    def _sign(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str]
    ) -> dict[str, str]:
        assert self.credentials is not None
        aws = AWSRequest(method=method, url=url, data=data, headers=headers)
        aws.headers["host"] = urlsplit(url).netloc
        SigV4Auth(self.credentials, "execute-api", self.region).add_auth(aws)
        return dict(aws.headers.items())

    def enqueue(self, task: str, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
        headers = {}
        if "idempotency_key" in extra:
            headers["Idempotency-Key"] = extra.pop("idempotency_key")
        status, body = self.request("POST", "/jobs", {"task": task, "args": args, **extra}, headers)
        assert status == 202, body
        return dict(body)

    def job(self, job_id: str) -> dict[str, Any]:
        status, body = self.request("GET", f"/jobs/{job_id}")
        assert status == 200, body
        return dict(body)

    def wait(self, job_id: str, *, until: Callable[[dict[str, Any]], bool] | None = None) -> Any:
        """Poll the job's status until it is final (or ``until`` says so)."""
        done = until or (lambda job: job["status"] in FINAL)
        deadline = time.monotonic() + self.timeout_s
        while True:
            job = self.job(job_id)
            if done(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: job {job_id} still {job['status']}: {job}")
            time.sleep(0.1)

    # ------------------------------------------------------------------ DLQ
    def dead_messages(self, job_id: str, *, wait_s: float = 10.0) -> list[dict[str, Any]]:
        """The dead-letter queue's messages of ``job_id`` (others put back at once)."""
        deadline = time.monotonic() + wait_s
        while True:
            found = self._receive_dead(job_id, visibility_s=0)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    def forget_dead(self, job_id: str) -> int:
        """Delete this job's messages from the dead-letter queue: the suite's cleanup."""
        deleted = 0
        for message in self._receive_dead(job_id, visibility_s=30):
            self.sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=message["ReceiptHandle"])
            deleted += 1
        return deleted

    def _receive_dead(self, job_id: str, visibility_s: int) -> list[dict[str, Any]]:
        mine: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        for _ in range(10):  # a busy DLQ: look through up to 100 messages
            got = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=30,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not got:
                break
            for message in got:
                ours = json.loads(message["Body"]).get("job_id") == job_id
                (mine if ours else others).append(message)
        for message in others + ([] if visibility_s else mine):
            self.sqs.change_message_visibility(
                QueueUrl=self.dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return mine


def from_outputs(
    name: str,
    outputs: dict[str, str],
    session: boto3.session.Session,
    *,
    endpoints: dict[str, str] | None = None,
) -> Target:
    """A deployed stack's target, from its outputs and a session that reaches it
    (``endpoints``: a URL per service, for a stand-in; none for AWS itself)."""
    missing = [key for key in OUTPUTS if key not in outputs]
    if missing:
        raise LookupError(f"stack {name} has no output {', '.join(missing)}: redeploy it")
    region = session.region_name or "us-east-1"
    urls = endpoints or {}
    lambda_client = session.client("lambda", endpoint_url=urls.get("lambda"))
    function = outputs["SchedulerFunctionName"]

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read())
        if "FunctionError" in response:
            raise AssertionError(f"SchedulerFunction failed: {payload}")
        return dict(payload)

    credentials = session.get_credentials()
    return Target(
        name=f"stack {name}",
        api_url=outputs["ApiUrl"],
        region=region,
        sqs=session.client("sqs", endpoint_url=urls.get("sqs")),
        dynamodb=session.client("dynamodb", endpoint_url=urls.get("dynamodb")),
        queue_url=outputs["JobsQueueUrl"],
        dlq_url=outputs["DeadLetterQueueUrl"],
        table_name=outputs["JobsTableName"],
        invoke_scheduler=invoke,
        credentials=credentials.get_frozen_credentials() if credentials else None,
    )


def stack_outputs(session: boto3.session.Session, stack_name: str, **client: Any) -> dict[str, str]:
    cloudformation = session.client("cloudformation", **client)
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
