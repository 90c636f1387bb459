"""The OpenAPI document: FastAPI's, made exact where FastAPI cannot know.

- Every operation declares the optional ``X-Correlation-Id`` request header, and
  every response the header it is sent back in.
- The job endpoints' ``POST`` takes ``{"task": <name>, "args": {...}}``. FastAPI sees
  ``task: str`` and ``args: object``; the document lists instead one body per
  registered task, with that task's own argument schema, so a client (or a fuzzer)
  knows exactly which bodies are acceptable. The request is still validated by
  :class:`~offpath.fastapi.schemas.JobSubmission` and the task, whose 422s name the
  argument.

Built on the first request for the document, when every task module is imported.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from offpath.fastapi.middleware import CORRELATION_HEADER
from offpath.tasks import TaskRegistry

REF = "#/components/schemas/{model}"
# An OpenAPI extension on jobs_router()'s POST: how the document finds it under any
# prefix, from the document itself.
SUBMIT_MARK = {"x-offpath-endpoint": "submit-job"}

CORRELATION_PARAMETER = {
    "name": CORRELATION_HEADER,
    "in": "header",
    "required": False,
    "description": "Correlation id for logs and the jobs this request enqueues "
    "(1-128 of `A-Za-z0-9._:=+/@-`). Anything else is ignored and replaced by API "
    "Gateway's request id. Sent back in the response's X-Correlation-Id.",
    "schema": {"type": "string", "title": CORRELATION_HEADER},
}


def build_openapi(app: FastAPI, tasks: TaskRegistry) -> dict[str, Any]:
    """The app's document, with the additions above."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    _declare_correlation_header(schema)
    for path in submit_paths(schema):
        _declare_job_bodies(schema, path, tasks)
    return schema


def submit_paths(schema: dict[str, Any]) -> list[str]:
    """The paths where the document has jobs_router()'s POST (under any prefix)."""
    ((key, value),) = SUBMIT_MARK.items()
    return [
        path
        for path, operations in schema.get("paths", {}).items()
        if operations.get("post", {}).get(key) == value
    ]


def _declare_correlation_header(schema: dict[str, Any]) -> None:
    header = {
        "description": "The request's correlation id (see the request header).",
        "schema": {"type": "string"},
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == CORRELATION_HEADER for p in parameters):
                parameters.append(CORRELATION_PARAMETER)
            for response in operation["responses"].values():
                response.setdefault("headers", {})[CORRELATION_HEADER] = header


def _declare_job_bodies(schema: dict[str, Any], path: str, tasks: TaskRegistry) -> None:
    components = schema["components"]["schemas"]
    body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    if "oneOf" in body["schema"]:
        return  # the same router mounted twice shares one submission body: done
    submission = components[body["schema"]["$ref"].rsplit("/", 1)[1]]
    registered = sorted(tasks, key=lambda task: task.name)
    refs, definitions = models_json_schema(
        [(task.args_model, "validation") for task in registered], ref_template=REF
    )
    components.update(definitions.get("$defs", {}))
    mapping = {}
    for task in registered:
        required = any(f.is_required() for f in task.args_model.model_fields.values())
        name = f"{task.name}_job"
        components[name] = {
            "type": "object",
            "title": name,
            "description": _summary(task.fn.__doc__) or f"Runs {task.name}.",
            "properties": {
                "task": {"const": task.name},
                "args": refs[(task.args_model, "validation")],
                "delay_seconds": submission["properties"]["delay_seconds"],
                "run_at": submission["properties"]["run_at"],
            },
            "required": ["task", "args"] if required else ["task"],
            "additionalProperties": False,
            "not": {"required": ["delay_seconds", "run_at"]},
        }
        mapping[task.name] = REF.format(model=name)
    body["schema"] = {
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "task", "mapping": mapping},
    }


def _summary(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""
