"""Where the dashboard's figures come from: pure logic, fakes injected, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.shared.tasks import build_report_archive
from moto import mock_aws

from offpath.aws import Clients
from offpath.local.dashboard.history import QueueHistory, Sample, Sampler
from offpath.local.dashboard.sources import (
    DeadLetterListing,
    JobsResources,
    oldest_dead_letter,
    oldest_in_queue,
    pool_rows,
    schedule_rows,
    summarize,
)
from offpath.local.lambda_env import Invocation
from offpath.local.provision import provision
from offpath.local.schedules import load_schedules
from offpath.local.topology import read_topology
from offpath.ops.errors import QueueError
from offpath.ops.messages import DeadMessage
from offpath.ops.status import QueueCounts, queue_counts
from offpath.producer import JobRequest, Producer
from offpath.store import DynamoDBJobStore, Job, JobStatus
from tests.support import TEMPLATE

NOW = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)


class FakePeek:
    """Stands in for ``DeadLetters.peek``: counts the peeks."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, limit: int) -> list[DeadMessage]:
        self.calls += 1
        return [DeadMessage(message_id=f"m{self.calls}", reason="permanent_error")]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_dlq_is_peeked_again_only_when_its_counts_move() -> None:
    peek, clock = FakePeek(), FakeClock()
    listing = DeadLetterListing(peek, max_age_s=15, monotonic=clock)

    first = listing.messages((1, 1))
    clock.now = 10
    assert listing.messages((1, 1)) is first
    assert peek.calls == 1

    listing.messages((2, 2))  # a new dead letter
    assert peek.calls == 2


def test_a_listing_that_disagrees_with_the_sampled_count_is_peeked_again() -> None:
    peek = FakePeek()  # always finds one message
    listing = DeadLetterListing(peek, max_age_s=15, monotonic=FakeClock())

    listing.messages((1, 1), visible=1)
    listing.messages((1, 1), visible=1)
    assert peek.calls == 1
    # A sample taken before an action, as the worker buries the job again: same counts,
    # but the listing read in between found none of them.
    listing.messages((1, 1), visible=3)
    assert peek.calls == 2


def test_a_listing_goes_stale_after_its_max_age_and_after_an_action() -> None:
    peek, clock = FakePeek(), FakeClock()
    listing = DeadLetterListing(peek, max_age_s=15, monotonic=clock)
    listing.messages((1, 1))

    clock.now = 16
    listing.messages((1, 1))
    assert peek.calls == 2

    assert listing.act(lambda: "redriven") == "redriven"
    listing.messages((1, 1))
    assert peek.calls == 3


def _job(job_id: str, status: JobStatus, age_s: float) -> Job:
    created = NOW - timedelta(seconds=age_s)
    return Job(job_id, "t", status, 1, created, created)


def test_the_oldest_job_in_the_queue_is_the_oldest_unfinished_one_not_in_the_dlq() -> None:
    jobs = [
        _job("done", JobStatus.SUCCEEDED, 900),
        _job("dead-but-failed", JobStatus.FAILED, 600),  # SQS moved its message to the DLQ
        _job("retrying", JobStatus.FAILED, 120),
        _job("queued", JobStatus.QUEUED, 30),
        _job("later", JobStatus.SCHEDULED, 3000),  # a one-off schedule: not in SQS yet
    ]
    assert oldest_in_queue(jobs, {"dead-but-failed"}, NOW) == 120
    assert oldest_in_queue(jobs[:1], set(), NOW) is None


def test_the_oldest_dead_letter_is_the_earliest_failure_listed() -> None:
    messages = [
        DeadMessage("m1", "max_attempts", failed_at=NOW - timedelta(seconds=40)),
        DeadMessage("m2", "max_receive_count", enqueued_at=NOW - timedelta(seconds=90)),
        DeadMessage("m3", "max_receive_count"),  # nothing known: ignored
    ]
    assert oldest_dead_letter(messages, NOW) == 90
    assert oldest_dead_letter([], NOW) is None


def test_schedule_rows_carry_the_template_schedules_and_their_next_fire_times() -> None:
    schedules = load_schedules(read_topology(TEMPLATE), NOW)
    schedules["DailyDigest"].fired.append(NOW - timedelta(hours=1))

    rows = {row.name: row for row in schedule_rows(schedules, NOW, count=2)}

    digest = rows["DailyDigest"]
    assert (digest.expression, digest.timezone, digest.task) == (
        "cron(0 8 * * ? *)",
        None,
        "send_daily_digest",
    )
    assert digest.upcoming == [NOW + timedelta(days=1), NOW + timedelta(days=2)]
    assert digest.last_fired == NOW - timedelta(hours=1)
    assert rows["ExchangeRates"].timezone == "Europe/Paris"


def _counts(visible: int) -> QueueCounts:
    return QueueCounts("q", visible, 0, 0)


def test_the_history_is_a_ring_buffer_per_queue() -> None:
    history = QueueHistory(capacity=3)
    for i in range(5):
        history.add("q", Sample(float(i), _counts(i)))

    assert [s.counts.visible for s in history.series("q")] == [2, 3, 4]
    latest = history.latest("q")
    assert latest is not None and latest.counts.visible == 4
    assert history.series("other") == [] and history.latest("other") is None


def test_a_failed_sample_is_reported_on_the_page_and_the_next_one_clears_it() -> None:
    answers: list[dict[str, QueueCounts] | Exception] = [
        QueueError("moto went away"),
        {"q": _counts(1)},
    ]

    def read() -> dict[str, QueueCounts]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    sampler = Sampler(read, every_s=2, window_s=10, clock=lambda: 42.0)
    sampler.sample()
    assert sampler.last_error == "moto went away"
    sampler.sample()
    assert sampler.last_error is None
    assert sampler.history.series("q") == [Sample(42.0, _counts(1))]
    assert sampler.history.capacity == 6  # 10 s of 2 s samples, both ends kept


def _figures(counts: QueueCounts | None) -> tuple[int, int, int] | None:
    return (counts.visible, counts.in_flight, counts.delayed) if counts else None


def test_every_pool_of_the_template_has_its_own_row_and_counts() -> None:
    with mock_aws():
        clients = Clients("us-east-1")
        provisioned = provision(TEMPLATE, clients, stack_name="pools")
        resources = JobsResources.of(provisioned)
        assert resources is not None
        assert [p.name for p in resources.pools] == ["default", "heavy"]
        heavy = resources.pools[1]
        assert heavy.function == "HeavyWorkerFunction"
        assert heavy.queue_url == provisioned.location.pools["heavy"].queue_url
        store = DynamoDBJobStore(clients.dynamodb, resources.table_name)
        producer = Producer(
            clients.sqs, resources.queue_url, store, pools=provisioned.location.pools
        )
        producer.enqueue(
            JobRequest(
                build_report_archive,
                build_report_archive.validate({"user_id": 7, "months": 1, "rows_per_month": 1}),
            )
        )
        counts = {
            name: queue_counts(clients.sqs, url)
            for pool in resources.pools
            for name, url in ((pool.queue_name, pool.queue_url), (pool.dlq_name, pool.dlq_url))
        }
    invocations = [
        Invocation("HeavyWorkerFunction", "r1", cold=True, duration_ms=5.0, ok=True),
        Invocation("HeavyWorkerFunction", "r2", cold=False, duration_ms=5.0, ok=False),
        Invocation("ApiFunction", "r3", cold=True, duration_ms=5.0, ok=True),
    ]

    rows = {
        row.pool.name: row for row in pool_rows(resources.pools, counts.get, summarize(invocations))
    }

    assert _figures(rows["heavy"].queue) == (1, 0, 0)
    assert _figures(rows["heavy"].dlq) == (0, 0, 0)
    assert (rows["heavy"].invocations, rows["heavy"].errors) == (2, 1)
    assert _figures(rows["default"].queue) == (0, 0, 0)
    assert (rows["default"].invocations, rows["default"].errors) == (0, 0)
    # Not sampled yet: shown as unknown, not as zero.
    assert pool_rows(resources.pools, lambda name: None, [])[1].queue is None
