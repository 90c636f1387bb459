"""The OpenAPI document: FastAPI's, made exact where FastAPI cannot know.

- Every response declares the X-Correlation-Id header.
- POST /jobs takes ``{"task": <name>, "args": {...}}``. FastAPI sees ``task: str``
  and ``args: object``; the document lists instead one body per registered task,
  with that task's own argument schema, so a client (or a fuzzer) knows exactly
  which bodies are acceptable. The request is still validated by
  :class:`~functions.api.schemas.JobSubmission` and the task, whose 422s name the
  argument.

Built on the first request for the document, when every task module is imported.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from functions.api.middleware import CORRELATION_HEADER
from offpath.tasks import TaskRegistry

REF = "#/components/schemas/{model}"


def build_openapi(app: FastAPI, tasks: TaskRegistry) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    _declare_correlation_header(schema)
    _declare_job_bodies(schema, tasks)
    return schema


def _declare_correlation_header(schema: dict[str, Any]) -> None:
    header = {
        "description": "The request's correlation id (see the request header).",
        "schema": {"type": "string"},
    }
    for operations in schema["paths"].values():
        for operation in operations.values():
            for response in operation["responses"].values():
                response.setdefault("headers", {})[CORRELATION_HEADER] = header


def _declare_job_bodies(schema: dict[str, Any], tasks: TaskRegistry) -> None:
    components = schema["components"]["schemas"]
    body = schema["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]
    submission = components.pop(body["schema"]["$ref"].rsplit("/", 1)[1])
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
            },
            "required": ["task", "args"] if required else ["task"],
            "additionalProperties": False,
        }
        mapping[task.name] = REF.format(model=name)
    body["schema"] = {
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "task", "mapping": mapping},
    }


def _summary(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""
