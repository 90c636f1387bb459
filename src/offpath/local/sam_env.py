"""The ``--env-vars`` file that runs ``sam local`` against a running ``offpath dev``.

``sam local invoke`` and ``sam local start-api`` run each function in a container;
its AWS calls should reach the queues and the table ``offpath dev`` made, at an
address the container can reach (``host.docker.internal`` on Docker Desktop). The
file is SAM's format (``sam local invoke --env-vars``,
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/using-sam-cli-local-invoke.html):
an object of functions by logical id, each an object of variable names to strings.

SAM applies it only to variables the template declares: a function that does not
declare ``AWS_ENDPOINT_URL`` would send its calls to AWS, whatever the file says.
:func:`sam_env_vars` says which ones are missing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from offpath.devstate import DevState, call
from offpath.local.template import load_template

_LOOPBACK = re.compile(r"(?<=://)(127\.0\.0\.1|localhost)(?=[:/])")


def container_url(value: str, host: str) -> str:
    """``value`` with each loopback URL's host replaced by ``host``."""
    return _LOOPBACK.sub(host, value)


def sam_env_vars(
    template: Path, state: DevState, host: str
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """The file's content for ``template``'s functions, and per function the endpoint
    variables it does not declare (which SAM would drop)."""
    environments: dict[str, Any] = call(state.control, "GET", "/environments")
    written = declared_names(template)
    content: dict[str, dict[str, str]] = {}
    missing: dict[str, list[str]] = {}
    for function, environment in sorted(environments.items()):
        endpoints = environment["endpoints"]
        content[function] = {
            name: container_url(str(value), host)
            for name, value in {**environment["declared"], **endpoints}.items()
        }
        lacking = sorted(set(endpoints) - written.get(function, set()))
        if lacking:
            missing[function] = lacking
    return content, missing


def declared_names(template: Path) -> dict[str, set[str]]:
    """The variable names each function declares, as written (a ``!If`` that gives
    ``AWS::NoValue`` locally still declares its name for ``sam local``)."""
    data = load_template(template)
    common = set(
        (data.get("Globals", {}).get("Function", {}).get("Environment") or {}).get("Variables")
        or {}
    )
    return {
        logical_id: common
        | set(((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {})
        for logical_id, resource in data["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
