"""AWS list prices the cost figures use, and the arithmetic from counts to dollars.

us-east-1, on-demand, x86_64, free tiers left out. The figures are the ones issue 9
gives; they were not re-checked online when recorded (the benchmark machine has no
network), so check them against the AWS pricing pages before quoting a bill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICES_AS_OF = "2026-11-25"
REGION = "us-east-1"

SQS_PER_REQUEST = 0.40 / 1e6  # standard queue; each 64 KB chunk of a payload is a request
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_S = 0.0000166667  # x86_64; duration billed per 1 ms
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1e6  # on-demand; 1 unit per 1 KB written
DYNAMODB_PER_READ_UNIT = 0.125 / 1e6  # on-demand; 1 unit per strongly consistent 4 KB
# Not in issue 9: EventBridge Scheduler, per invocation (its API calls are free).
SCHEDULER_PER_INVOCATION = 1.00 / 1e6
# Not in issue 9: CloudWatch Logs standard ingestion, for the worker's log volume.
CLOUDWATCH_LOGS_PER_GB = 0.50

PRICES_TEXT = (
    f"{REGION} list prices (as of {PRICES_AS_OF}, from issue 9, not re-checked online): "
    "SQS standard $0.40/M requests (64 KB chunks); Lambda $0.20/M requests + "
    "$0.0000166667/GB-s; DynamoDB on-demand $0.625/M write units, $0.125/M read units; "
    "free tiers excluded"
)


@dataclass(frozen=True)
class PerJob:
    """What one job costs in billed units (averages: a batch's calls are shared)."""

    sqs_requests: float
    dynamodb_write_units: float
    dynamodb_read_units: float
    lambda_invocations: float
    lambda_billed_ms: float  # sum over its invocations of each one's duration, rounded up

    def dollars_per_million(self, memory_mb: int) -> dict[str, float]:
        """Each component's cost for a million jobs, and their ``total``."""
        gb_s = self.lambda_billed_ms / 1000 * memory_mb / 1024
        parts = {
            "sqs": self.sqs_requests * SQS_PER_REQUEST * 1e6,
            "dynamodb": (
                self.dynamodb_write_units * DYNAMODB_PER_WRITE_UNIT
                + self.dynamodb_read_units * DYNAMODB_PER_READ_UNIT
            )
            * 1e6,
            "lambda_requests": self.lambda_invocations * LAMBDA_PER_REQUEST * 1e6,
            "lambda_duration": gb_s * LAMBDA_PER_GB_S * 1e6,
        }
        parts["total"] = sum(parts.values())
        return parts


def billed_ms(duration_ms: float) -> int:
    """Lambda bills each invocation's duration rounded up to the millisecond."""
    return math.ceil(duration_ms)


def write_units(item_bytes: int) -> int:
    """Write units of one write of an item this size (on-demand: per 1 KB)."""
    return max(1, math.ceil(item_bytes / 1024))


def item_bytes(item: dict[str, dict[str, str]]) -> int:
    """DynamoDB's size of an item of S and N attributes, by AWS's published rules."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        if "S" in value:
            size += len(value["S"].encode())
        elif "N" in value:
            digits = value["N"].lstrip("-").replace(".", "").strip("0")
            size += math.ceil(len(digits) / 2) + 1
        else:
            size += len(str(next(iter(value.values()))).encode())
    return size
