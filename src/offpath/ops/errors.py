"""The errors of the operator tooling, in offpath's error tree."""

from __future__ import annotations

from offpath.errors import ConfigurationError, OffpathError


class OpsError(OffpathError):
    """An operator command could not do what was asked."""


class TargetNotFound(ConfigurationError):
    """No stack, running ``offpath dev`` or environment says where the jobs live."""


class DeadLetterNotFound(OpsError):
    """No message in the dead-letter queue has this job id or message id."""


class QueueError(OpsError):
    """SQS refused an operation (wraps the ``ClientError``)."""
