"""SnapStart's restore hooks: each restored environment has its own clients, wiring
and random state (offpath.snapstart).

A snapshot is a copy of one process's memory that several environments resume from;
``os.fork`` makes the same copy, so the lifecycle test forks "restored environments"
from a process that ran a handler's INIT as Lambda's would (undoing the one thing a
fork does that a restore does not: :mod:`random` reseeding itself in the child).
"""

from __future__ import annotations

import os
import random
from typing import Any, cast

import pytest
import snapshot_restore_py
from moto import mock_aws

from offpath import snapstart
from offpath.aws import Clients
from offpath.runtime import per_container
from tests.support import ROOT, python_json


def _authorizations(client: Any) -> list[str]:
    """The Authorization header of each request ``client`` sends from now on."""
    seen: list[str] = []

    def record(request: Any, **_: Any) -> None:
        value = request.headers["Authorization"]
        seen.append(value.decode() if isinstance(value, bytes) else value)

    # First: moto's own before-send handler answers the request and ends the chain.
    client.meta.events.register_first("before-send", record)
    return seen


def test_after_a_restore_clients_are_new_and_sign_with_the_environments_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a client built and used at INIT (a connection opened, credentials resolved)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSNAPSHOT")
    with mock_aws():
        clients = Clients("us-east-1")
        before = clients.sqs
        before.list_queues()
        # WHEN the environment is restored with credentials of its own
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDRESTORED")
        snapstart.after_restore()
        after = clients.sqs
        signed = _authorizations(after)
        after.list_queues()

    # THEN the client is a new one, and it resolved the credentials again
    assert after is not before
    assert after.meta.endpoint_url == before.meta.endpoint_url
    assert len(signed) == 1 and "Credential=AKIDRESTORED/" in signed[0]


def test_after_a_restore_the_per_container_wiring_is_built_again() -> None:
    built: list[object] = []

    @per_container
    def wiring() -> object:
        built.append(object())
        return built[-1]

    snapshot = wiring()
    snapstart.after_restore()

    assert wiring() is not snapshot and len(built) == 2
    assert wiring() is built[-1], "and kept again while the restored environment is warm"


def test_after_a_restore_random_draws_other_numbers_than_the_snapshot_would() -> None:
    snapshot = random.Random()
    snapshot.setstate(random.getstate())

    snapstart.after_restore()

    assert [random.getrandbits(64) for _ in range(4)] != [
        snapshot.getrandbits(64) for _ in range(4)
    ]


def _registered(registry: object, hook: object) -> int:
    """How many times ``hook`` is in a snapshot_restore_py registry ((hook, args, kwargs))."""
    entries = cast("list[tuple[object, tuple[Any, ...], dict[str, Any]]]", registry)
    return sum(1 for entry in entries if entry[0] is hook)


def test_the_hooks_are_registered_once_and_only_for_a_snapstart_init() -> None:
    assert snapstart.install({"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}) is False
    assert snapstart.install({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}) is True
    assert snapstart.install({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}) is True

    after = snapshot_restore_py.get_after_restore()
    before = snapshot_restore_py.get_before_snapshot()
    assert _registered(after, snapstart.after_restore) == 1
    assert _registered(before, snapstart.before_snapshot) == 1


# ---------------------------------------------------------------- the lifecycle

_LIFECYCLE = """\
import json, os, random, sys

import functions.worker.handler  # INIT, as Lambda runs it with SnapStart
import snapshot_restore_py as hooks
from offpath.aws import Clients
from offpath.tasks import registry

# Lambda runs the before-snapshot hooks last registered first.
for func, args, kwargs in reversed(hooks.get_before_snapshot()):
    func(*args, **kwargs)
clients = Clients("us-east-1")
snapshot_client = id(clients.sqs)
snapshot_random = random.getstate()
environments = []
for _ in range(2):  # two execution environments resumed from this one snapshot
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        # random reseeds itself in a forked child (os.register_at_fork); a restore
        # from a snapshot runs no such thing: the state is the snapshot's.
        random.setstate(snapshot_random)
        if sys.argv[1] == "hooks":  # Lambda runs the after-restore hooks in order
            for func, args, kwargs in hooks.get_after_restore():
                func(*args, **kwargs)
        seen = {"random": random.getrandbits(64), "same_client": id(clients.sqs) == snapshot_client}
        os.write(write, json.dumps(seen).encode())
        os._exit(0)
    os.close(write)
    environments.append(json.loads(os.read(read, 4096)))
    os.waitpid(pid, 0)
print(json.dumps({"tasks": len(list(registry)), "environments": environments}))
"""


def _restored(hooks: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OFFPATH_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_LAMBDA_INITIALIZATION_TYPE="snap-start",
        OFFPATH_TASK_MODULES="functions.shared.tasks",
        POWERTOOLS_TRACE_DISABLED="true",
    )
    result: dict[str, Any] = python_json(_LIFECYCLE, "hooks" if hooks else "none", env=env)
    return result


needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="a snapshot is a fork here")


@needs_fork
def test_environments_restored_from_one_snapshot_draw_their_own_numbers_and_clients() -> None:
    # GIVEN a worker's INIT with SnapStart (the handler registers offpath's hooks);
    # WHEN two environments resume from its snapshot and run the after-restore hooks
    restored = _restored(hooks=True)

    # THEN the task modules were imported before the snapshot (neither imports them),
    # and each environment has its own random state and builds its own client
    first, second = restored["environments"]
    assert restored["tasks"] > 0
    assert first["random"] != second["random"]
    assert not first["same_client"] and not second["same_client"]


@needs_fork
def test_without_the_hooks_restored_environments_share_the_snapshots_state() -> None:
    # What the hooks are for: without them, both draw the snapshot's next number and
    # use the snapshot's client (its connections, its credentials).
    first, second = _restored(hooks=False)["environments"]

    assert first["random"] == second["random"]
    assert first["same_client"] and second["same_client"]
