"""The running ``offpath dev``'s state file, ``.offpath/dev.json``, and its control calls.

``offpath dev`` writes where everything is (API, AWS endpoint, control server, and
where the jobs live); the CLI reads it to act on the same emulator. This module
imports nothing of the emulator or the dashboard, so reading the state (``offpath
status``, ``offpath dlq``...) never loads them.

Example:
    >>> state = read_state()  # doctest: +SKIP
    >>> state.location.pool().queue_url if state else None  # doctest: +SKIP
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offpath.location import Location, LocationNotFound

STATE_FILE = Path(".offpath") / "dev.json"


@dataclass(frozen=True)
class DevState:
    """Where a running ``offpath dev`` serves what.

    Attributes:
        api: the HttpApi's URL ("" when the template has no API).
        endpoint: the AWS endpoint its resources live on.
        control: the control server's URL (and the dashboard's).
        location: where the template's jobs live, by their local names (None when the
            template holds no offpath jobs).
        environment: the default pool's worker environment as the template sets it
            (``OFFPATH_TASK_MODULES`` among them), for the CLI to read as a function would.
        endpoints: each service's endpoint as the functions get it
            (``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``), where the services
            are on several backends.
    """

    api: str
    endpoint: str
    control: str
    location: Location | None = None
    environment: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "endpoint": self.endpoint,
            "control": self.control,
            "location": self.location.to_json() if self.location else None,
            "environment": self.environment,
            "endpoints": self.endpoints,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DevState:
        location = data.get("location")
        return cls(
            api=str(data.get("api", "")),
            endpoint=str(data["endpoint"]),
            control=str(data["control"]),
            location=Location.from_json(location) if location else None,
            environment={str(k): str(v) for k, v in (data.get("environment") or {}).items()},
            endpoints={str(k): str(v) for k, v in (data.get("endpoints") or {}).items()},
        )


def write_state(state: DevState, path: Path = STATE_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state.to_json(), indent=2))


def read_state(path: Path = STATE_FILE) -> DevState | None:
    """The running ``offpath dev``'s state, or None if none answers.

    A file left by an ``offpath dev`` that died (or one in an older shape) is not a
    running emulator: None, as for no file.
    """
    if not path.exists():
        return None
    try:
        state = DevState.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError, LocationNotFound):
        return None
    try:
        call(state.control, "GET", "/invocations")
    except (OSError, RuntimeError):
        return None
    return state


def call(base: str, method: str, path: str, body: Any = None) -> Any:
    """One control request; raises ``RuntimeError`` with the emulator's error."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 -- loopback
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(json.loads(exc.read()).get("error", str(exc))) from None
