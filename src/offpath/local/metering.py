"""Counts the AWS requests a client makes, by service and operation.

It listens on botocore's own ``before-call`` event: the request still goes to the
endpoint (moto, LocalStack, AWS) unchanged. This is how the tests and benchmarks
measure calls per job, which is what the user pays for.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Operations billed as DynamoDB write request units.
DYNAMODB_WRITES = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)


@dataclass
class CallLog:
    """Every call seen, in order, with its parameters."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def attach(self, client: Any) -> Any:
        """Start counting the calls of ``client``; returns it for chaining."""
        service = client.meta.service_model.service_name
        client.meta.events.register(f"provide-client-params.{service}.*", self._record)
        return client

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.service_model.service_name, model.name, dict(params)))

    def count(self, operation: str | None = None, service: str | None = None) -> int:
        return sum(
            1
            for svc, op, _ in self.calls
            if (operation is None or op == operation) and (service is None or svc == service)
        )

    def by_operation(self) -> Counter[str]:
        return Counter(f"{svc}:{op}" for svc, op, _ in self.calls)

    def params(self, operation: str) -> list[dict[str, Any]]:
        return [p for _, op, p in self.calls if op == operation]

    def dynamodb_writes(self) -> int:
        return sum(1 for svc, op, _ in self.calls if svc == "dynamodb" and op in DYNAMODB_WRITES)

    def clear(self) -> None:
        self.calls.clear()
