"""The soak's audit: the job table, the DLQ, the ledger and the chaos log, into a report.

Every figure is a count; :meth:`Report.violations` names each broken invariant.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offpath.store import JobStatus
from tests.soak.plan import FAULTS, Plan
from tests.soak.tasks import EFFECT, GUARDED

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef


@dataclass
class Report:
    """What happened, and which invariant (if any) it broke."""

    jobs: int = 0
    duplicate_deliveries: int = 0
    poison_sent: int = 0
    succeeded: int = 0
    dead: int = 0
    dead_healthy: int = 0
    lost: list[str] = field(default_factory=list)
    redriven_healthy: list[str] = field(default_factory=list)
    effects: int = 0
    missing_effects: list[str] = field(default_factory=list)
    duplicate_effects: list[str] = field(default_factory=list)
    window_crashes: int = 0
    window_reruns: int = 0
    unplanned_window_reruns: list[str] = field(default_factory=list)
    poison_dead_lettered: int = 0
    poison_by_reason: dict[str, int] = field(default_factory=dict)
    poison_missing: list[str] = field(default_factory=list)
    poison_wrong_reason: list[str] = field(default_factory=list)
    duplicate_dead_letters: int = 0
    faults_planned: dict[str, int] = field(default_factory=dict)
    faults_fired: dict[str, int] = field(default_factory=dict)
    throttles: dict[str, int] = field(default_factory=dict)
    invocations: int = 0
    invocations_crashed: int = 0
    invocations_timed_out: int = 0
    drained: bool = False
    seconds: float = 0.0

    def violations(self) -> list[str]:
        """Every broken invariant, in words; empty when the soak passed."""
        broken = []
        if not self.drained:
            broken.append("the queue did not drain before the time limit")
        for name, items in (
            ("jobs lost", self.lost),
            ("healthy jobs redriven by SQS without a reason", self.redriven_healthy),
            ("succeeded jobs with no side effect", self.missing_effects),
            ("side effects repeated after their guard completed", self.duplicate_effects),
            ("poison messages missing from the DLQ", self.poison_missing),
            ("poison messages with the wrong reason", self.poison_wrong_reason),
        ):
            if items:
                broken.append(f"{name}: {len(items)} ({', '.join(sorted(items)[:10])})")
        if self.dead_healthy:
            broken.append(f"healthy jobs dead: {self.dead_healthy}")
        if self.window_reruns != self.window_crashes:
            broken.append(
                f"planned crashes inside the window: {self.window_crashes}, but only "
                f"{self.window_reruns} of those jobs re-ran the effect: did the crash fire?"
            )
        for fault, planned in self.faults_planned.items():
            if self.faults_fired.get(fault, 0) != planned:
                fired = self.faults_fired.get(fault, 0)
                broken.append(f"fault {fault}: {planned} planned, {fired} fired")
        return broken

    def render(self) -> str:
        def row(name: str, value: object, note: str = "") -> str:
            return f"  {name:<46} {value!s:>8}  {note}".rstrip()

        faults = ", ".join(f"{k} {v}" for k, v in self.faults_fired.items())
        throttles = ", ".join(f"{k} {v}" for k, v in sorted(self.throttles.items()))
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.poison_by_reason.items()))
        rate = self.jobs / self.seconds if self.seconds else 0.0
        lines = [
            "offpath chaos soak",
            row("jobs enqueued", self.jobs),
            row("  + same envelope sent twice", self.duplicate_deliveries),
            row("  + poison messages", self.poison_sent),
            row("succeeded", self.succeeded),
            row("dead (job records)", self.dead, f"healthy jobs among them: {self.dead_healthy}"),
            row("lost", len(self.lost), "must be 0"),
            row("healthy jobs redriven by SQS", len(self.redriven_healthy), "must be 0"),
            row("side effects (ledger lines)", self.effects),
            row("  succeeded without one", len(self.missing_effects), "must be 0"),
            row("  repeated after the guard completed", len(self.duplicate_effects), "must be 0"),
            row(
                "  re-run after a planned crash in the window",
                self.window_reruns,
                f"one per crash there: {self.window_crashes}",
            ),
            row(
                "  re-run after an unplanned interruption",
                len(self.unplanned_window_reruns),
                "in the same window (timeout, deadline, retries); load-dependent",
            ),
            row(
                "poison in the DLQ with its reason",
                f"{self.poison_dead_lettered}/{self.poison_sent}",
                reasons,
            ),
            row("  extra copies in the DLQ", self.duplicate_dead_letters, "at-least-once"),
            row("faults fired", sum(self.faults_fired.values()), faults),
            row("throttled requests (retried)", sum(self.throttles.values()), throttles),
            row(
                "worker invocations",
                self.invocations,
                f"crashed {self.invocations_crashed}, timed out {self.invocations_timed_out}",
            ),
            row("seconds", f"{self.seconds:.0f}", f"{rate:.1f} jobs/s"),
        ]
        broken = self.violations()
        lines.append("PASSED" if not broken else "FAILED:\n  - " + "\n  - ".join(broken))
        return "\n".join(lines)


def audit(
    soak: Plan,
    statuses: dict[str, str],
    dead_letters: list[MessageTypeDef],
    ledger: Path,
    chaos_log: Path,
) -> Report:
    """Count what happened to every planned job and poison message."""
    faults = _jsonl(chaos_log)
    transient = Counter(e["key"] for e in faults if e["kind"] == "transient")
    crashes = Counter(f"crash_{e['point']}" for e in faults if e["kind"] == "crash")
    hangs = sum(1 for e in faults if e["kind"] == "hang")
    throttles = Counter(e["service"] for e in faults if e["kind"] == "throttle")
    healthy = {job.job_id: job for job in soak.jobs}
    report = Report(
        jobs=len(soak.jobs),
        duplicate_deliveries=sum(1 for job in soak.jobs if job.duplicate),
        poison_sent=len(soak.poison),
        faults_planned={fault: soak.planned(fault) for fault in FAULTS},
        faults_fired={
            # A transient fault counts as fired when every planned failure of the job did.
            "transient": sum(
                1
                for job in soak.jobs
                if job.fault == "transient" and transient[job.job_id] == job.fail_first
            ),
            **{f: crashes[f] for f in ("crash_before", "crash_after", "crash_window")},
            "hang": hangs,
        },
        throttles=dict(throttles),
    )
    report.succeeded = sum(1 for job_id in healthy if statuses.get(job_id) == JobStatus.SUCCEEDED)
    report.dead = sum(1 for status in statuses.values() if status == JobStatus.DEAD)
    report.dead_healthy = sum(1 for job_id in healthy if statuses.get(job_id) == JobStatus.DEAD)
    _audit_effects(report, soak, statuses, ledger)
    _audit_dead_letters(report, soak, dead_letters, statuses)
    return report


def _audit_effects(report: Report, soak: Plan, statuses: dict[str, str], ledger: Path) -> None:
    """Classify every effect by where it falls against its job's guard (see tasks.GUARDED)."""
    before: Counter[str] = Counter()  # effects before the job's first GUARDED line
    after: Counter[str] = Counter()  # effects after it: the guard failed
    guarded: set[str] = set()
    for entry in _jsonl(ledger):
        job_id = entry.get("job_id", "")
        if entry.get("kind") == GUARDED:
            guarded.add(job_id)
        elif entry.get("kind") == EFFECT:
            report.effects += 1
            (after if job_id in guarded else before)[job_id] += 1
    for job in soak.jobs:
        if statuses.get(job.job_id) == JobStatus.SUCCEEDED and not before[job.job_id]:
            report.missing_effects.append(job.job_id)
        if after[job.job_id]:
            report.duplicate_effects.append(job.job_id)
        reruns = max(0, before[job.job_id] - 1)
        if job.fault == "crash_window":
            report.window_crashes += 1
            report.window_reruns += min(reruns, 1)
            if reruns > 1:
                report.unplanned_window_reruns.append(job.job_id)
        elif reruns:
            report.unplanned_window_reruns.append(job.job_id)


def _audit_dead_letters(
    report: Report, soak: Plan, letters: list[MessageTypeDef], statuses: dict[str, str]
) -> None:
    poison_by_key = {p.key: p for p in soak.poison}
    poison_by_body = {p.body(): p for p in soak.poison if p.request() is None}
    seen: Counter[str] = Counter()
    healthy = {job.job_id for job in soak.jobs}
    redriven: set[str] = set()
    for letter in letters:
        attributes: dict[str, Any] = dict(letter.get("MessageAttributes", {}))
        reason = attributes.get("offpath.reason", {}).get("StringValue")
        job_id = attributes.get("offpath.job_id", {}).get("StringValue") or _job_id(letter["Body"])
        poison = poison_by_key.get(job_id or "") or poison_by_body.get(letter["Body"])
        if poison is None:
            if job_id in healthy and reason is None:
                redriven.add(job_id)
            continue
        seen[poison.key] += 1
        if seen[poison.key] > 1:
            report.duplicate_dead_letters += 1
            continue
        if reason != poison.reason:
            report.poison_wrong_reason.append(f"{poison.key}:{poison.kind}->{reason}")
            continue
        report.poison_dead_lettered += 1
        report.poison_by_reason[reason] = report.poison_by_reason.get(reason, 0) + 1
    report.poison_missing = [p.key for p in soak.poison if not seen[p.key]]
    report.redriven_healthy = sorted(redriven)
    # Lost: no outcome at all, neither succeeded, nor dead, nor in the DLQ.
    report.lost = [
        job.job_id
        for job in soak.jobs
        if statuses.get(job.job_id) not in (JobStatus.SUCCEEDED, JobStatus.DEAD)
        and job.job_id not in redriven
    ]


def _job_id(body: str) -> str | None:
    try:
        value = json.loads(body).get("job_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]
