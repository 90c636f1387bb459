"""Throughput of `offpath dev` for N durable jobs, beside raw boto3 doing the same calls.

    .venv/bin/python -m bench.emulator_throughput [--jobs 1000]

Both runs talk to the same embedded moto server. The offpath run is the whole path:
producer -> SQS -> event source mapping -> worker process -> DynamoDB. The baseline
makes, from one process, the AWS calls those jobs need (PutItem, SendMessageBatch,
ReceiveMessage, two UpdateItem, DeleteMessageBatch) with no Lambda, no worker logic.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import functions.shared.tasks as example_tasks

from offpath.local.emulator import Emulator, EmulatorOptions
from offpath.producer import request
from offpath.runtime import build_producer
from offpath.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def run_offpath(emulator: Emulator, jobs: int) -> dict[str, float]:
    env = emulator.provisioned.environment("ApiFunction")  # type: ignore[union-attr]
    settings = Settings(queue_url=env["OFFPATH_QUEUE_URL"], table_name=env["OFFPATH_TABLE_NAME"])
    producer = build_producer(settings, emulator.clients)  # type: ignore[arg-type]
    started = time.perf_counter()
    handles = producer.enqueue_many(
        [request(example_tasks.generate_report, n + 1, "2026-06") for n in range(jobs)]
    )
    pending = {h.job_id for h in handles}
    latencies: list[float] = []
    while pending:
        time.sleep(0.2)
        for job_id in list(pending):
            job = producer.store.get(job_id)
            if job.status == "succeeded" and job.started_at:
                latencies.append((job.started_at - job.created_at).total_seconds() * 1000)
                pending.discard(job_id)
        if time.perf_counter() - started > 600:
            raise SystemExit(f"{len(pending)} jobs not done after 600 s")
    # Finished = last job done; the status polling above only adds to our own time.
    records = [producer.store.get(h.job_id) for h in handles]
    elapsed = max(r.finished_at or r.updated_at for r in records) - min(
        r.created_at for r in records
    )
    seconds = elapsed.total_seconds()
    latencies.sort()
    return {
        "jobs": jobs,
        "seconds": round(seconds, 2),
        "jobs_per_s": round(jobs / seconds, 1),
        "latency_p50_ms": round(statistics.median(latencies), 1),
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
    }


def run_baseline(emulator: Emulator, jobs: int) -> dict[str, float]:
    sqs, ddb = emulator.clients.sqs, emulator.clients.dynamodb  # type: ignore[union-attr]
    table = emulator.provisioned.table_name()  # type: ignore[union-attr]
    queue = sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    started = time.perf_counter()
    bodies = [json.dumps({"job_id": uuid.uuid4().hex, "n": n}) for n in range(jobs)]
    for start in range(0, jobs, 10):
        chunk = bodies[start : start + 10]
        for body in chunk:
            ddb.put_item(TableName=table, Item={"pk": {"S": "b#" + json.loads(body)["job_id"]}})
        sqs.send_message_batch(
            QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)]
        )
    done = 0
    while done < jobs:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            key = {"pk": {"S": "b#" + json.loads(message["Body"])["job_id"]}}
            for status in ("running", "succeeded"):
                ddb.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET st = :s",
                    ExpressionAttributeValues={":s": {"S": status}},
                )
        if messages:
            sqs.delete_message_batch(
                QueueUrl=queue,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        done += len(messages)
    seconds = time.perf_counter() - started
    return {"jobs": jobs, "seconds": round(seconds, 2), "jobs_per_s": round(jobs / seconds, 1)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args(argv)
    options = EmulatorOptions(
        template=ROOT / "template.yaml",
        api_port=0,
        outbox=None,
        extra_environment={
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
        },
    )
    with Emulator(options, log=lambda line: None) as emulator:
        baseline = run_baseline(emulator, args.jobs)
        offpath = run_offpath(emulator, args.jobs)
    result = {
        "offpath": offpath,
        "baseline_raw_boto3": baseline,
        "throughput_ratio": round(offpath["jobs_per_s"] / baseline["jobs_per_s"], 2),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
