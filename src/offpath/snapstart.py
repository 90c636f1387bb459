"""Lambda SnapStart: what every restored execution environment must have of its own.

With SnapStart (template.yaml's ``SnapStart=On``), Lambda runs a function's INIT once,
when it publishes a version, snapshots the environment, and resumes each new execution
environment of that version from that one snapshot. Whatever INIT left in memory is
then the same in all of them, and three things must not be:

- AWS clients: their connections (sockets and TLS state opened before the snapshot)
  and the credentials their session resolved;
- the state of :mod:`random`, seeded once at its import: every environment would draw
  the same numbers, so the retry jitter (:mod:`offpath.retry`) would send jobs that
  failed together back together, and OpenTelemetry's random span ids would collide;
- what a handler built per container (:func:`offpath.runtime.per_container`): it holds
  clients, and it is meant to be one per execution environment.

:func:`install` registers two runtime hooks with ``snapshot_restore_py``, which Lambda's
Python runtime provides to SnapStart functions. Before the snapshot, the work every
restored environment would otherwise repeat on its first invocation and may share: the
task modules' import and the SQS and DynamoDB service models (nothing is signed, no
credentials are resolved). After each restore: every :class:`~offpath.aws.Clients`
forgets its clients, the per-container objects are forgotten, and :mod:`random` is
reseeded from the operating system. ``uuid.uuid4`` and :mod:`secrets` read the
operating system's randomness on every call and need nothing.

:mod:`offpath.runtime` calls :func:`install` at its import, so every handler that uses
it has the hooks; another calls it at INIT. Unless Lambda says that this INIT is
SnapStart's (``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``), it does nothing and
imports nothing.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping

INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START = "snap-start"
# The clients every function builds on its first invocation: the producer's SQS and
# the job store's DynamoDB (the others are built on first use, rarely).
PRELOADED_SERVICES = ("sqs", "dynamodb")


class _Hooks:
    installed = False


def install(environ: Mapping[str, str] = os.environ) -> bool:
    """Register offpath's SnapStart hooks if this is a SnapStart INIT; once per process.

    Returns:
        Whether this is a SnapStart INIT (the hooks are then registered).

    Example:
        >>> from offpath import snapstart
        >>> snapstart.install({})  # not SnapStart: nothing to do
        False
    """
    if environ.get(INITIALIZATION_TYPE) != SNAP_START:
        return False
    if not _Hooks.installed:
        from snapshot_restore_py import register_after_restore, register_before_snapshot

        register_before_snapshot(before_snapshot)
        register_after_restore(after_restore)
        _Hooks.installed = True
    return True


def before_snapshot() -> None:
    """Do before the snapshot what every restored environment may share.

    A setting that is missing or wrong is left for the first invocation to report, as
    it would be without SnapStart.
    """
    from pydantic import ValidationError

    from offpath.aws import load_models
    from offpath.errors import ConfigurationError
    from offpath.runtime import load_tasks
    from offpath.settings import Settings

    try:
        settings = Settings()
        load_tasks(settings)
    except (ConfigurationError, ValidationError):
        return
    load_models(PRELOADED_SERVICES, settings.region)


def after_restore() -> None:
    """Give this restored environment its own clients, wiring and random state."""
    from offpath.aws import forget_clients
    from offpath.runtime import new_container

    new_container()
    forget_clients()
    random.seed()  # None: from os.urandom
