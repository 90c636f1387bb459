"""``offpath status``: queue depths, the age of the oldest job, jobs by status.

Example:
    >>> reader = StatusReader.for_target(target)  # doctest: +SKIP
    >>> reader.read().to_json()["queue"]["visible"]  # doctest: +SKIP
    3
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.request import urlopen

from botocore.exceptions import ClientError

from offpath.location import PoolLocation
from offpath.ops.errors import QueueError
from offpath.store import Job, utcnow

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

    from offpath.ops.target import MetricStatistics, Target

Clock = Callable[[], datetime]

# How many items one status read may evaluate in the job table (see StatusReader._jobs).
SCAN_LIMIT = 200
LATEST_JOBS = 10
# SQS publishes its CloudWatch metrics once a minute: asking more often buys nothing
# and costs a GetMetricStatistics request each time.
METRIC_CACHE_S = 60.0
METRIC_WINDOW = timedelta(minutes=10)
LOCAL_AGE_NOTE = (
    "not measured locally: SQS has no attribute for it, and finding the oldest message "
    "means receiving messages, which counts toward the queue's maxReceiveCount and "
    "hides them from the worker"
)


@dataclass(frozen=True)
class QueueCounts:
    """A queue's approximate counts, as GetQueueAttributes gives them."""

    url: str
    visible: int
    in_flight: int
    delayed: int
    oldest_age_s: float | None = None
    oldest_age_note: str | None = None

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def queue_counts(sqs: SQSClient, url: str) -> QueueCounts:
    """Visible, in flight and delayed messages of one queue (one GetQueueAttributes)."""
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
    except ClientError as exc:
        raise QueueError(f"cannot read the attributes of {url}: {exc}") from exc
    return QueueCounts(
        url=url,
        visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


@dataclass(frozen=True)
class JobsSample:
    """Job records from one bounded Scan: a sample, not the table."""

    scanned: int  # items DynamoDB evaluated (the Limit counts these)
    by_status: dict[str, int]
    latest: list[Job] = field(default_factory=list)  # of the sample, newest first

    @property
    def sampled(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class StatusReport:
    at: datetime
    target: str
    queue: QueueCounts
    dead_letter_queue: QueueCounts
    jobs: JobsSample
    # Every pool by name: (its queue, its dead-letter queue); the default's are the two
    # above. Empty when the reader was given no pools.
    pools: dict[str, tuple[QueueCounts, QueueCounts | None]] = field(default_factory=dict)
    # Every pool's worker function by pool name, and how often it ran (see WorkerRuns).
    workers: dict[str, WorkerRuns] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "target": self.target,
            "queue": asdict(self.queue),
            "dead_letter_queue": asdict(self.dead_letter_queue),
            "pools": {
                name: {
                    "queue": asdict(queue),
                    "dead_letter_queue": asdict(dead) if dead is not None else None,
                    "worker": asdict(self.workers[name]) if name in self.workers else None,
                }
                for name, (queue, dead) in self.pools.items()
            },
            "jobs": {
                "sampled": self.jobs.sampled,
                "scanned": self.jobs.scanned,
                "by_status": self.jobs.by_status,
                "note": f"a Scan of at most {SCAN_LIMIT} items: counts are of the sample",
                "latest": [_job_json(job) for job in self.jobs.latest],
            },
        }


@dataclass(frozen=True)
class WorkerRuns:
    """A pool's worker function and its invocations (None: unknown, ``note`` says why)."""

    function: str
    invocations: int | None
    note: str


# Reads the invocations of these functions: {function: (count or None, note)}.
CountInvocations = Callable[[Sequence[str]], Mapping[str, tuple[int | None, str]]]


class LambdaInvocations:
    """On AWS: the ``AWS/Lambda`` ``Invocations`` metric's sum over the last 10 minutes,
    one GetMetricStatistics per function, cached for a minute (CloudWatch has the
    metric a minute or two late)."""

    def __init__(
        self,
        cloudwatch: MetricStatistics,
        *,
        clock: Clock = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        cache_s: float = METRIC_CACHE_S,
    ) -> None:
        self.cloudwatch = cloudwatch
        self.clock = clock
        self.monotonic = monotonic
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, tuple[int | None, str]]] = {}

    def __call__(self, functions: Sequence[str]) -> dict[str, tuple[int | None, str]]:
        """Read at most once a minute per function (as :class:`OldestAge`)."""
        counts = {}
        for function in functions:
            cached = self._cache.get(function)
            if cached is None or self.monotonic() - cached[0] >= self.cache_s:
                cached = (self.monotonic(), self._read(function))
                self._cache[function] = cached
            counts[function] = cached[1]
        return counts

    def _read(self, function: str) -> tuple[int | None, str]:
        now = self.clock()
        try:
            response = self.cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName="Invocations",
                Dimensions=[{"Name": "FunctionName", "Value": function}],
                StartTime=now - METRIC_WINDOW,
                EndTime=now,
                Period=60,
                Statistics=["Sum"],
            )
        except ClientError as exc:
            return None, f"CloudWatch refused: {exc.response.get('Error', {}).get('Code')}"
        points: list[Mapping[str, Any]] = list(response.get("Datapoints", []))
        return int(sum(p["Sum"] for p in points)), "CloudWatch, the last 10 minutes"


class EmulatorInvocations:
    """Locally: the invocations ``offpath dev`` recorded since it started, from its control
    API's ``GET /invocations`` (one request; the URL is the loopback one its state file
    gives, never one from input)."""

    def __init__(self, control_url: str, *, timeout_s: float = 5.0) -> None:
        self.control_url = control_url.rstrip("/")
        self.timeout_s = timeout_s

    def __call__(self, functions: Sequence[str]) -> dict[str, tuple[int | None, str]]:
        url = f"{self.control_url}/invocations"
        try:
            # The loopback URL offpath dev's state file gives, never one from input.
            with urlopen(url, timeout=self.timeout_s) as response:  # noqa: S310  # nosec B310
                runs: list[dict[str, Any]] = json.loads(response.read())
        except (OSError, ValueError) as exc:
            return {function: (None, f"offpath dev's control API: {exc}") for function in functions}
        counts = Counter(run.get("function") for run in runs)
        note = "offpath dev, since it started"
        return {function: (counts.get(function, 0), note) for function in functions}


class OldestAge:
    """``ApproximateAgeOfOldestMessage`` from CloudWatch, the only source of it.

    SQS publishes it once a minute per queue, a few minutes late, and not at all for a
    queue that has been idle for hours: the note says how old the figure is.
    """

    def __init__(
        self,
        cloudwatch: MetricStatistics,
        *,
        clock: Clock = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        cache_s: float = METRIC_CACHE_S,
    ) -> None:
        self.cloudwatch = cloudwatch
        self.clock = clock
        self.monotonic = monotonic
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, tuple[float | None, str]]] = {}

    def __call__(self, queue_url: str) -> tuple[float | None, str]:
        cached = self._cache.get(queue_url)
        if cached is not None and self.monotonic() - cached[0] < self.cache_s:
            return cached[1]
        answer = self._read(queue_url.rstrip("/").rsplit("/", 1)[-1])
        self._cache[queue_url] = (self.monotonic(), answer)
        return answer

    def _read(self, queue_name: str) -> tuple[float | None, str]:
        now = self.clock()
        try:
            response = self.cloudwatch.get_metric_statistics(
                Namespace="AWS/SQS",
                MetricName="ApproximateAgeOfOldestMessage",
                Dimensions=[{"Name": "QueueName", "Value": queue_name}],
                StartTime=now - METRIC_WINDOW,
                EndTime=now,
                Period=60,
                Statistics=["Maximum"],
            )
        except ClientError as exc:
            return None, f"CloudWatch refused: {exc.response.get('Error', {}).get('Code')}"
        points: list[Mapping[str, Any]] = list(response.get("Datapoints", []))
        if not points:
            return None, "no CloudWatch datapoint in the last 10 minutes (idle queue?)"
        latest = max(points, key=lambda p: p["Timestamp"])
        at: datetime = latest["Timestamp"]
        return float(latest["Maximum"]), f"CloudWatch, minute of {at:%H:%M} UTC"


class StatusReader:
    """Reads one :class:`StatusReport`: 2 GetQueueAttributes, 1 Scan, CloudWatch cached."""

    def __init__(
        self,
        *,
        sqs: SQSClient,
        dynamodb: DynamoDBClient,
        queue_url: str,
        dlq_url: str,
        table_name: str,
        target: str = "",
        oldest_age: Callable[[str], tuple[float | None, str]] | None = None,
        clock: Clock = utcnow,
        scan_limit: int = SCAN_LIMIT,
        pools: Mapping[str, PoolLocation] | None = None,
        invocations: CountInvocations | None = None,
    ) -> None:
        self.pools = dict(pools or {})
        self.invocations = invocations
        self.sqs = sqs
        self.dynamodb = dynamodb
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.table_name = table_name
        self.target = target
        self.oldest_age = oldest_age
        self.clock = clock
        self.scan_limit = scan_limit

    @classmethod
    def for_target(cls, target: Target) -> StatusReader:
        """Locally no oldest age (see ``LOCAL_AGE_NOTE``); on AWS, from CloudWatch."""
        return cls(
            sqs=target.clients.sqs,
            dynamodb=target.clients.dynamodb,
            queue_url=target.queue_url,
            dlq_url=target.dlq_url,
            table_name=target.table_name,
            target=target.describe(),
            oldest_age=None if target.local else OldestAge(target.clients.cloudwatch),
            pools=target.location.pools,
            invocations=_invocations_of(target),
        )

    def read(self) -> StatusReport:
        """2 GetQueueAttributes per pool (the default pool's once), 1 Scan."""
        queue, dead = self._queue(self.queue_url), self._queue(self.dlq_url)
        pools: dict[str, tuple[QueueCounts, QueueCounts | None]] = {}
        for name, pool in self.pools.items():
            if pool.queue_url == self.queue_url:
                pools[name] = (queue, dead)
            else:
                own_dead = self._queue(pool.dlq_url) if pool.dlq_url else None
                pools[name] = (self._queue(pool.queue_url), own_dead)
        return StatusReport(
            at=self.clock(),
            target=self.target,
            queue=queue,
            dead_letter_queue=dead,
            jobs=self._jobs(),
            pools=pools,
            workers=self._workers(),
        )

    def _workers(self) -> dict[str, WorkerRuns]:
        functions = {name: pool.function for name, pool in self.pools.items() if pool.function}
        if self.invocations is None:
            counts: Mapping[str, tuple[int | None, str]] = {}
        else:
            counts = self.invocations(sorted(set(functions.values())))
        unknown = (None, "no source of invocations for this target")
        return {
            name: WorkerRuns(function, *counts.get(function, unknown))
            for name, function in functions.items()
        }

    def _queue(self, url: str) -> QueueCounts:
        counts = queue_counts(self.sqs, url)
        age_s, note = self.oldest_age(url) if self.oldest_age else (None, LOCAL_AGE_NOTE)
        return QueueCounts(
            counts.url, counts.visible, counts.in_flight, counts.delayed, age_s, note
        )

    def _jobs(self) -> JobsSample:
        # Cost: there is no index on status, so this is a Scan. It reads at most
        # scan_limit items (Limit counts items evaluated, before the filter drops
        # idempotency records), eventually consistent: 200 half-kilobyte items are
        # 100 KB, ~13 read request units. Refreshed every 2 s that is ~23,000 units an
        # hour, a fraction of a cent on demand; a big table costs no more per read.
        # Scan order is hash order, not time: the counts describe a sample, and
        # "latest" is the newest of that sample.
        sample = scan_jobs(self.dynamodb, self.table_name, self.scan_limit)
        return JobsSample(sample.scanned, sample.by_status, sample.latest[:LATEST_JOBS])


def _invocations_of(target: Target) -> CountInvocations | None:
    """On AWS, CloudWatch; under ``offpath dev``, its control API; else none known."""
    if not target.local:
        return LambdaInvocations(target.clients.cloudwatch)
    return EmulatorInvocations(target.control) if target.control else None


def scan_jobs(dynamodb: DynamoDBClient, table_name: str, limit: int) -> JobsSample:
    """Job records (not Powertools idempotency records) from one Scan of at most
    ``limit`` items, every one of them kept, most recently updated first.

    Raises:
        QueueError: DynamoDB refused the Scan.
    """
    try:
        response = dynamodb.scan(
            TableName=table_name,
            Limit=limit,
            FilterExpression="begins_with(pk, :job)",
            ExpressionAttributeValues={":job": {"S": "job#"}},
        )
    except ClientError as exc:
        raise QueueError(f"cannot scan {table_name}: {exc}") from exc
    jobs = [Job.from_item(dict(item)) for item in response.get("Items", [])]
    jobs.sort(key=lambda job: job.updated_at, reverse=True)
    by_status = Counter(str(job.status) for job in jobs)
    return JobsSample(response.get("ScannedCount", len(jobs)), dict(by_status), jobs)


def _job_json(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "task": job.task,
        "status": str(job.status),
        "attempts": job.attempts,
        "updated_at": job.updated_at.astimezone(UTC).isoformat(),
        "last_error": job.last_error.type if job.last_error else None,
    }
