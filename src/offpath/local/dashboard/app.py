"""The dashboard's routes, served by ``offpath dev``'s control server.

Pages (``GET /``, ``GET /jobs/{job_id}``) are HTML; the same URLs asked for
``application/json`` answer ``{"parts": {name: html}}``, which the script swaps in
every two seconds. The only writes are the explicit actions, each a POST:

- ``/dashboard/dlq/redrive`` ``{"message_id": ...}`` or ``{"all": true}``
- ``/dashboard/dlq/purge``

each with an optional ``"pool"`` (the default pool's DLQ without one); ``GET /?pool=NAME``
lists that pool's dead letters. Redrive sends them to that pool's own queue.
- ``/dashboard/schedules/{name}/fire``

The DLQ actions go through :class:`offpath.ops.dlq.DeadLetters`, the engine of
``offpath dlq``; "fire" is :meth:`Emulator.fire`, as ``offpath schedules fire``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import unquote

from offpath.errors import JobNotFound
from offpath.local.dashboard import pages
from offpath.local.dashboard.history import SAMPLE_EVERY_S, WINDOW_S, Sampler
from offpath.local.dashboard.markup import h
from offpath.local.dashboard.parts import (
    QueueCard,
    dlq_part,
    invocations_part,
    job_part,
    jobs_part,
    pools_part,
    queues_part,
    schedules_part,
    status_filter_options,
    task_filter_options,
)
from offpath.local.dashboard.sources import (
    SCAN_LIMIT,
    DeadLetterListing,
    JobFilter,
    JobsResources,
    PoolResources,
    oldest_dead_letter,
    oldest_in_queue,
    pool_rows,
    schedule_rows,
    summarize,
)
from offpath.local.emulator import Emulator
from offpath.local.esm import InvocationFailed
from offpath.ops.dlq import DeadLetters
from offpath.ops.messages import DeadMessage, RedriveResult
from offpath.ops.status import JobsSample, QueueCounts, queue_counts, scan_jobs
from offpath.store import DynamoDBJobStore, Job
from offpath.webhooks import delivery_job_id

STATIC_TYPES = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
# Everything the pages load comes from this server: no CDN, no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
QUEUE_AGE_NOTE = (
    "age of the oldest unfinished durable job not in the DLQ, from the job records: SQS "
    "has no attribute for its oldest message, and receiving one to look would count "
    "toward maxReceiveCount"
)
DLQ_AGE_NOTE = "since the oldest listed message was dead-lettered"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, str] = field(default_factory=dict)
    wants_json: bool = False
    body: Any = None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(
            status,
            text.encode(),
            "text/html; charset=utf-8",
            {"content-security-policy": CONTENT_SECURITY_POLICY, "vary": "accept"},
        )

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data, default=str).encode(), "application/json")


@dataclass(frozen=True)
class PoolLetters:
    """One pool's dead-letter queue: the engine of ``offpath dlq`` and its listing."""

    pool: PoolResources
    letters: DeadLetters
    listing: DeadLetterListing


class ActionRefused(Exception):
    """An action that cannot be done as asked: ``status`` says why, as HTTP would."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Dashboard:
    """Pages, parts and actions over a started :class:`Emulator`.

    Example:
        >>> dashboard = Dashboard(emulator).start()  # doctest: +SKIP
        >>> dashboard.handle(Request("GET", "/")).status  # doctest: +SKIP
        200
    """

    def __init__(
        self,
        emulator: Emulator,
        *,
        sample_every_s: float = SAMPLE_EVERY_S,
        window_s: float = WINDOW_S,
    ) -> None:
        if emulator.clients is None or emulator.provisioned is None:
            raise RuntimeError("start the emulator before its dashboard")
        self.emulator = emulator
        self.window_s = window_s
        self.resources = JobsResources.of(emulator.provisioned)
        self.store: DynamoDBJobStore | None = None
        self.letters: DeadLetters | None = None  # the default pool's
        self.dead_letters: DeadLetterListing | None = None
        self.pools: dict[str, PoolResources] = {}
        self.pool_letters: dict[str, PoolLetters] = {}  # each pool with a DLQ
        self.default_pool = ""
        if self.resources is not None:
            self.store = DynamoDBJobStore(
                emulator.clients.dynamodb, self.resources.table_name, clock=emulator.clock.now
            )
            self.pools = {pool.name: pool for pool in self.resources.pools}
            self.default_pool = next(
                (p.name for p in self.resources.pools if p.queue_url == self.resources.queue_url),
                "",
            )
            for pool in self.resources.pools:
                if not pool.dlq_url:
                    continue
                # No long polling: moto answers from one place, so an empty short poll is
                # an empty queue, and each peek hides the messages for milliseconds only.
                letters = DeadLetters(emulator.clients.sqs, pool.dlq_url, self.store, wait_time_s=0)
                self.pool_letters[pool.name] = PoolLetters(
                    pool, letters, DeadLetterListing(letters.peek)
                )
            default = self.pool_letters.get(self.default_pool)
            if default is not None:
                self.letters, self.dead_letters = default.letters, default.listing
        self.sampler = Sampler(self._read_queues, every_s=sample_every_s, window_s=window_s)

    def start(self) -> Dashboard:
        self.sampler.start()
        return self

    def stop(self) -> None:
        self.sampler.stop()

    # ------------------------------------------------------------------ routes
    def handle(self, request: Request) -> Response | None:
        """The response, or None for a path that is not the dashboard's."""
        segments = [unquote(s) for s in request.path.split("/") if s]
        if request.method == "GET":
            return self._get(segments, request)
        if request.method == "POST" and segments[:1] == ["dashboard"]:
            try:
                return Response.json({"message": self._act(segments[1:], request.body)})
            except ActionRefused as exc:
                return Response.json({"error": str(exc)}, exc.status)
        return None

    def _get(self, segments: list[str], request: Request) -> Response | None:
        api_url = self.emulator.api_url
        if not segments:
            chosen = JobFilter.from_query(request.query)
            pool = request.query.get("pool") or self.default_pool
            if self.resources is not None and pool not in self.pools:
                error = self._unknown_pool(pool)
                if request.wants_json:
                    return Response.json({"error": error}, 404)
                return Response.html(pages.not_found_page(f"/?pool={pool}", api_url), 404)
            parts = self.parts(chosen, pool)
            if request.wants_json:
                return self._parts_response(parts)
            return Response.html(
                pages.dashboard_page(parts, status_filter_options(chosen), api_url)
            )
        if len(segments) == 2 and segments[0] == "jobs":
            parts = self.job_parts(segments[1])
            if request.wants_json:
                return self._parts_response(parts)
            return Response.html(pages.job_page(segments[1], parts, api_url))
        if len(segments) == 2 and segments[0] == "static" and segments[1] in STATIC_TYPES:
            asset = resources.files(__package__).joinpath("static", segments[1])
            return Response(200, asset.read_bytes(), STATIC_TYPES[segments[1]])
        return None

    @staticmethod
    def _parts_response(parts: dict[str, str]) -> Response:
        return Response.json({"parts": parts, "updated": time.strftime("%H:%M:%S")})

    # ------------------------------------------------------------------ reading
    def parts(self, chosen: JobFilter, pool: str | None = None) -> dict[str, str]:
        """Every part of the dashboard page, rendered now; the dead letters of ``pool``
        (the default pool's when None)."""
        now = self.emulator.clock.now()
        jobs = self._jobs()
        dead = self._dead()
        invocations = list(self.emulator.invocations)  # one C-level copy: no torn read
        summaries = summarize(invocations)
        pools = self.resources.pools if self.resources else ()
        parts = {
            "queues": pools_part(pool_rows(pools, self._latest, summaries))
            + queues_part(self._cards(jobs, dead, now), now=time.time(), window_s=self.window_s),
            "jobs": jobs_part(jobs, chosen, now),
            "task-options": task_filter_options(jobs, chosen),
            "dlq": self._dlq_part(pool or self.default_pool, dead, now),
            "schedules": schedules_part(schedule_rows(self.emulator.schedules, now), now),
            "invocations": invocations_part(invocations, summaries),
        }
        if self.sampler.last_error:
            parts["queues"] += f'<p class="warning">{h(self.sampler.last_error)}</p>'
        return parts

    def _dlq_part(self, pool: str, default_dead: list[DeadMessage], now: datetime) -> str:
        if pool == self.default_pool:
            if self.dead_letters is None:
                return '<p class="none">The jobs\' queue has no dead-letter queue.</p>'
            counts = self._latest(self._dlq_name)
            return dlq_part(default_dead, now, visible=counts.visible if counts else None)
        found = self.pool_letters.get(pool)
        if found is None:
            return f'<p class="none">The pool {h(pool)}\'s queue has no dead-letter queue.</p>'
        counts = self._latest(found.pool.dlq_name)
        head = (
            f'<p class="pool-dlq" data-pool="{h(pool)}">Pool <strong>{h(pool)}</strong>: '
            f"{h(found.pool.dlq_name)}, redriven to {h(found.pool.queue_name)}. "
            '<a href="/#dlq">the default pool\'s</a></p>'
        )
        return head + dlq_part(self._dead(found), now, visible=counts.visible if counts else None)

    def job_parts(self, job_id: str) -> dict[str, str]:
        """The job page's one part."""
        job: Job | None = None
        if self.store is not None:
            try:
                job = self.store.get(job_id)
            except JobNotFound:
                job = None
        dead = [
            m
            for found in self.pool_letters.values()
            for m in self._dead(found)
            if m.job_id == job_id
        ]
        now = self.emulator.clock.now()
        return {"job": job_part(job, job_id, dead, now, self._deliveries(job))}

    def _deliveries(self, job: Job | None) -> list[Job]:
        """The webhook delivery job of a finished job that asked for one."""
        if job is None or not job.callback_url or self.store is None:
            return []
        try:
            return [self.store.get(delivery_job_id(job.job_id, job.status))]
        except JobNotFound:
            return []

    @property
    def _queue_name(self) -> str:
        return self.resources.queue_name if self.resources else ""

    @property
    def _dlq_name(self) -> str:
        return self.resources.dlq_name if self.resources else ""

    def _read_queues(self) -> dict[str, QueueCounts]:
        if self.resources is None or self.emulator.clients is None:
            return {}
        sqs = self.emulator.clients.sqs
        counts = {self._queue_name: queue_counts(sqs, self.resources.queue_url)}
        for pool in self.resources.pools:
            if pool.queue_name not in counts:
                counts[pool.queue_name] = queue_counts(sqs, pool.queue_url)
            found = self.pool_letters.get(pool.name)
            if found is not None and pool.dlq_name not in counts:
                with found.listing.lock:  # never in the middle of our own peek
                    counts[pool.dlq_name] = queue_counts(sqs, pool.dlq_url)
        return counts

    def _latest(self, name: str) -> QueueCounts | None:
        sample = self.sampler.history.latest(name)
        return sample.counts if sample else None

    def _jobs(self) -> JobsSample | None:
        if self.resources is None or self.emulator.clients is None:
            return None
        return scan_jobs(self.emulator.clients.dynamodb, self.resources.table_name, SCAN_LIMIT)

    def _dead(self, found: PoolLetters | None = None) -> list[DeadMessage]:
        """``found``'s dead letters, the default pool's when None."""
        found = found or self.pool_letters.get(self.default_pool)
        if found is None:
            return []
        counts = self._latest(found.pool.dlq_name)
        # Counts moving (a new dead letter, one redriven elsewhere) force a new peek.
        if counts is None:
            return found.listing.messages(None)
        return found.listing.messages((counts.visible, counts.total), counts.visible)

    def _cards(
        self, jobs: JobsSample | None, dead: list[DeadMessage], now: datetime
    ) -> list[QueueCard]:
        if self.resources is None:
            return []
        queue, dlq = self._latest(self._queue_name), self._latest(self._dlq_name)
        dead_ids = {m.job_id for m in dead if m.job_id}
        queue_age = oldest_in_queue(jobs.latest, dead_ids, now) if jobs else None
        cards = [
            QueueCard(
                self._queue_name,
                self.resources.queue_url,
                queue,
                queue_age if queue and queue.total else None,
                QUEUE_AGE_NOTE,
                self.sampler.history.series(self._queue_name),
            )
        ]
        if self.dead_letters is not None:
            cards.append(
                QueueCard(
                    self._dlq_name,
                    self.resources.dlq_url,
                    dlq,
                    oldest_dead_letter(dead, now),
                    DLQ_AGE_NOTE,
                    self.sampler.history.series(self._dlq_name),
                )
            )
        return cards

    # ------------------------------------------------------------------ actions
    def _act(self, segments: list[str], body: Any) -> str:
        if not isinstance(body, dict):
            raise ActionRefused(400, "the body must be a JSON object")
        try:
            if segments == ["dlq", "redrive"]:
                message = self._redrive(body)
            elif segments == ["dlq", "purge"]:
                message = self._purge(body)
            elif len(segments) == 3 and segments[0] == "schedules" and segments[2] == "fire":
                message = self._fire(segments[1])
            else:
                raise ActionRefused(404, f"no action {'/'.join(segments)}")
        finally:
            self.sampler.wake()
        return message

    def _unknown_pool(self, pool: str) -> str:
        return f"no pool {pool!r}; the pools: {', '.join(self.pools) or 'none'}"

    def _letters(
        self, body: dict[str, Any]
    ) -> tuple[DeadLetterListing, DeadLetters, PoolResources]:
        pool = body.get("pool", self.default_pool)
        if not isinstance(pool, str):
            raise ActionRefused(400, '"pool" must be a pool\'s name')
        if self.resources is None:
            raise ActionRefused(404, "the jobs' queue has no dead-letter queue")
        if pool not in self.pools:
            raise ActionRefused(404, self._unknown_pool(pool))
        found = self.pool_letters.get(pool)
        if found is None:
            if pool == self.default_pool:
                raise ActionRefused(404, "the jobs' queue has no dead-letter queue")
            raise ActionRefused(404, f"the pool {pool}'s queue has no dead-letter queue")
        return found.listing, found.letters, found.pool

    def _redrive(self, body: dict[str, Any]) -> str:
        listing, letters, where = self._letters(body)
        if body.get("all") is True:
            result = listing.act(lambda: letters.redrive(None, to_url=where.queue_url))
            return _redrive_message(result, "every message", where.queue_name)
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise ActionRefused(400, 'give {"message_id": "..."} or {"all": true}')
        result = listing.act(lambda: letters.redrive([message_id], to_url=where.queue_url))
        if result.not_found:
            raise ActionRefused(404, f"message {message_id} is no longer in the dead-letter queue")
        return _redrive_message(result, f"message {message_id}", where.queue_name)

    def _purge(self, body: dict[str, Any]) -> str:
        listing, letters, _ = self._letters(body)
        purged = listing.act(letters.purge)
        return f"Purged the dead-letter queue: about {purged} message(s) deleted."

    def _fire(self, name: str) -> str:
        try:
            response = self.emulator.fire(name)
        except KeyError as exc:
            raise ActionRefused(404, str(exc.args[0]) if exc.args else "no such schedule") from exc
        except InvocationFailed as exc:
            raise ActionRefused(502, f"{name}: {exc}") from exc
        job_id = response.get("job_id") if isinstance(response, dict) else None
        if job_id is None:
            return f"Fired {name}."
        if response.get("duplicate"):
            return f"Fired {name}: job {job_id} existed already (same tick)."
        return f"Fired {name}: job {job_id} enqueued."


def _redrive_message(result: RedriveResult, what: str, queue: str) -> str:
    text = f"Redrove {what}: {result.moved} message(s) moved to {queue}"
    requeued = sum(1 for state in result.records.values() if state == "requeued")
    if requeued:
        text += f", {requeued} job record(s) requeued"
    others = {job: state for job, state in result.records.items() if state != "requeued"}
    if others:
        text += "; not requeued: " + ", ".join(f"{job} ({state})" for job, state in others.items())
    if result.not_sent or result.not_deleted:
        text += f"; {result.not_sent} not sent, {result.not_deleted} not deleted (retry)"
    return text + "."
