"""Job metrics in CloudWatch EMF, filed under the job's task.

Shared by the functions: the worker (started, succeeded, failed, dead, duration,
queue latency) and the producers (enqueued).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: MetricUnit | str, value: float) -> None: ...


@runtime_checkable
class TaskMetricsSink(MetricsSink, Protocol):
    """A sink that files each job's metrics under its task, as a dimension."""

    def add_task_metric(
        self, task: str, name: str, unit: MetricUnit | str, value: float
    ) -> None: ...

    def flush(self) -> None: ...


# The task dimension of a message naming no registered task: a dimension value taken
# from a message body would let any sender mint new (billed) metrics.
UNKNOWN_TASK = "unknown"


class TaskMetrics:
    """EMF metrics under a ``task`` dimension: one document per task per batch.

    Why a flush per task rather than ``single_metric``: single_metric prints one EMF
    document per value, four or five per job (started, latency, duration, outcome),
    while one document per task holds all of a batch's values in arrays: a batch of
    ten jobs of one task is one log line, each with exactly the dimensions
    [task, service].
    """

    def __init__(self, namespace: str | None = None, service: str | None = None) -> None:
        self.namespace = namespace  # None: POWERTOOLS_METRICS_NAMESPACE
        self.service = service  # None: POWERTOOLS_SERVICE_NAME
        self._sinks: dict[str | None, EphemeralMetrics] = {}

    def add_task_metric(self, task: str, name: str, unit: MetricUnit | str, value: float) -> None:
        self._sink(task).add_metric(name=name, unit=unit, value=value)

    def add_metric(self, name: str, unit: MetricUnit | str, value: float) -> None:
        """A metric of no task: dimension ``service`` only."""
        self._sink(None).add_metric(name=name, unit=unit, value=value)

    def flush(self) -> None:
        sinks, self._sinks = self._sinks, {}
        for sink in sinks.values():
            if sink.metric_set:  # Powertools flushes by itself at 100 values
                sink.flush_metrics()

    def _sink(self, task: str | None) -> EphemeralMetrics:
        sink = self._sinks.get(task)
        if sink is None:
            sink = EphemeralMetrics(namespace=self.namespace, service=self.service)
            if task is not None:
                # A default dimension survives Powertools' own flush at 100 values.
                sink.set_default_dimensions(task=task)
            self._sinks[task] = sink
        return sink
