"""Hostile SQS records: each ends in the DLQ with its reason, none fails its batch.

The worker runs on the template's queues and table (in-process moto) with SQS's
own message rules enforced as AWS enforces them (:mod:`tests.hostile.sqs_rules`):
a dead letter that moto would take but AWS would refuse fails here too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import functions.shared.tasks as example_tasks
import pytest
from functions.shared import services

from offpath.local.context import LocalContext
from offpath.local.esm import BatchResult
from offpath.producer import request
from offpath.store import JobStatus
from offpath.tasks import registry
from offpath.worker import Worker
from tests.hostile.corpus import CORPUS, FINDINGS, Finding, Hostile, body
from tests.hostile.sqs_rules import SqsRules
from tests.support import Stack

WORKER_TIMEOUT_S = 60  # WorkerFunction's Timeout in template.yaml


@pytest.fixture
def rules(stack: Stack) -> SqsRules:
    return SqsRules().attach(stack.clients.sqs)


def _one_batch(stack: Stack, worker: Worker) -> tuple[BatchResult, list[dict[str, Any]]]:
    """Everything visible, delivered as one event (Lambda's batches go up to 10,000)."""
    messages = stack.receive_all(stack.queue_url)
    responses: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        responses.append(worker.handle(event, LocalContext(timeout_s=WORKER_TIMEOUT_S)))
        return responses[-1]

    result = stack.esm().process(messages, invoke)
    assert result.received == len(messages)
    return result, responses


def dead_letters(stack: Stack) -> list[dict[str, Any]]:
    """The DLQ's messages as ``{"body": <raw text>, "<attribute>": value}``.

    Not ``Stack.dead_letters``: that one parses bodies, and some of these are built
    to break parsers.
    """
    return [
        {
            "body": m["Body"],
            **{
                k.removeprefix("offpath."): v.get("StringValue")
                for k, v in m.get("MessageAttributes", {}).items()
            },
        }
        for m in stack.receive_all(stack.dlq_url)
    ]


def _letters_by_case(stack: Stack, sent: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The DLQ's messages, keyed by the corpus case whose message they were (one each)."""
    letters = dead_letters(stack)
    by_case = {sent.get(letter["source_message_id"], "?"): letter for letter in letters}
    assert len(by_case) == len(letters), "one dead letter per hostile body, never two"
    return by_case


def test_the_hostile_corpus_in_one_batch_is_dead_lettered_case_by_case(
    stack: Stack, rules: SqsRules
) -> None:
    # GIVEN good jobs around every hostile body, and one job id delivered three times
    good = [stack.producer.enqueue(request(example_tasks.generate_report, 101, "2026-01"))]
    sent: dict[str, str] = {}
    for n, case in enumerate(CORPUS):
        sent[stack.send_raw(case.body)] = case.name
        if n == len(CORPUS) // 2:
            good.append(
                stack.producer.enqueue(request(example_tasks.generate_report, 102, "2026-02"))
            )
    duplicate = body("dup-1", args={"user_id": 7, "month": "2026-07"})
    stack.send_raw(duplicate)
    stack.send_raw(duplicate)
    stack.send_raw(body("dup-1", task="always_fail", args={}))  # same id, another task
    good.append(stack.producer.enqueue(request(example_tasks.generate_report, 103, "2026-03")))

    # WHEN it all arrives in one batch
    result, responses = _one_batch(stack, stack.worker(registry))

    # THEN nothing is handed back, every good job ran once, the duplicate ran once
    assert responses == [{"batchItemFailures": []}]
    assert (result.deleted, result.failed) == (len(CORPUS) + 6, 0)
    assert {stack.store.get(job.job_id).status for job in good} == {JobStatus.SUCCEEDED}
    runs = Counter(entry["user_id"] for entry in services.read("report"))
    assert runs == {101: 1, 102: 1, 103: 1, 7: 1}
    assert stack.store.get("dup-1").status is JobStatus.SUCCEEDED
    # AND each hostile body is in the DLQ, unchanged, with its reason
    letters = _letters_by_case(stack, sent)
    assert sorted(letters) == sorted(case.name for case in CORPUS)
    got = {name: (letter["reason"], letter.get("job_id")) for name, letter in letters.items()}
    assert got == {case.name: (case.reason.value, case.job_id) for case in CORPUS}
    for case in CORPUS:
        assert case.says in letters[case.name]["error_message"], case.name
        assert letters[case.name]["body"] == case.body, "kept as sent, for a redrive"
    assert rules.refused == []
    assert stack.depth(stack.queue_url) == {"visible": 0, "in_flight": 0, "delayed": 0}


def _finding_params() -> list[Any]:
    # Each was a bug this suite found (its text says what and how it was fixed); each
    # stays here as a regression test.
    return [pytest.param(f, id=f.case.name) for f in FINDINGS]


@pytest.mark.parametrize("finding", _finding_params())
def test_a_known_finding_is_dead_lettered_with_its_reason_beside_a_good_job(
    stack: Stack, rules: SqsRules, finding: Finding
) -> None:
    case: Hostile = finding.case
    message_id = stack.send_raw(case.body)
    neighbour = stack.producer.enqueue(request(example_tasks.generate_report, 5, "2026-05"))

    _, responses = _one_batch(stack, stack.worker(registry))

    assert stack.store.get(neighbour.job_id).status is JobStatus.SUCCEEDED
    assert rules.refused == []
    assert responses == [{"batchItemFailures": []}]
    letters = dead_letters(stack)
    assert len(letters) == 1
    letter = letters[0]
    assert letter["source_message_id"] == message_id
    assert (letter["reason"], letter.get("job_id")) == (case.reason.value, case.job_id)
    assert case.says in letter["error_message"]


# F1 (fixed): a bad message naming a finished job's id once flipped that job to dead.
def test_a_bad_message_reusing_a_finished_jobs_id_leaves_that_job_alone(
    stack: Stack, rules: SqsRules
) -> None:
    done = stack.producer.enqueue(request(example_tasks.generate_report, 9, "2026-09"))
    stack.drain(stack.worker(registry))
    stack.send_raw(body(done.job_id, task="no_such_task"))

    stack.drain(stack.worker(registry))

    [letter] = dead_letters(stack)
    assert (letter["reason"], letter["job_id"]) == ("unknown_task", done.job_id)
    job = stack.store.get(done.job_id)
    assert (job.status, job.last_error) == (JobStatus.SUCCEEDED, None)
