"""The OpenAPI document is complete: later, schemathesis fuzzes against it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from functions.api.app import app
from openapi_spec_validator import validate

from offpath.tasks import registry

EXPECTED = {
    ("get", "/healthz"): {"200"},
    ("post", "/signup"): {"201", "413", "422", "503"},
    ("post", "/reports"): {"202", "413", "422", "503"},
    ("post", "/payments/{payment_id}/charge"): {"202", "422", "503"},
    ("post", "/jobs"): {"202", "409", "413", "422", "503"},
    ("get", "/jobs/{job_id}"): {"200", "404", "422"},
    ("delete", "/jobs/{job_id}"): {"200", "202", "404", "409", "422", "503"},
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    schema: dict[str, Any] = TestClient(app).get("/openapi.json").json()
    return schema


def operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = document["paths"][path][method]
    return op


def test_the_document_names_the_api(document: dict[str, Any]) -> None:
    assert document["info"]["title"] == "offpath example API"
    assert document["info"]["version"]
    assert "fire-and-forget" in document["info"]["description"].lower()


def test_every_route_declares_exactly_its_status_codes(document: dict[str, Any]) -> None:
    found = {
        (method, path): set(op["responses"])
        for path, item in document["paths"].items()
        for method, op in item.items()
    }
    assert found == EXPECTED


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_every_response_has_a_json_schema_and_the_correlation_header(
    document: dict[str, Any], method: str, path: str
) -> None:
    for status, response in operation(document, method, path)["responses"].items():
        assert "schema" in response["content"]["application/json"], status
        assert "X-Correlation-Id" in response["headers"], status


def test_error_bodies_are_the_declared_models(document: dict[str, Any]) -> None:
    responses = operation(document, "post", "/jobs")["responses"]

    def ref(status: str) -> str:
        schema: dict[str, str] = responses[status]["content"]["application/json"]["schema"]
        return schema["$ref"]

    assert ref("422") == "#/components/schemas/ValidationErrorBody"
    assert {ref(s) for s in ("409", "413", "503")} == {"#/components/schemas/ErrorBody"}
    assert "Location" in responses["202"]["headers"]


def test_job_status_lists_every_state(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert set(schemas["JobStatus"]["enum"]) == {
        "queued",
        "running",
        "succeeded",
        "failed",
        "dead",
        "scheduled",
        "cancelled",
    }
    view = schemas["JobView"]
    assert set(view["required"]) == set(view["properties"])


def test_the_idempotency_key_header_is_documented(document: dict[str, Any]) -> None:
    (header,) = [
        p
        for p in operation(document, "post", "/jobs")["parameters"]
        if p["in"] == "header" and p["name"] == "Idempotency-Key"
    ]
    assert "409" in header["description"]


def test_behind_a_stage_the_document_names_it_as_the_server() -> None:
    document = TestClient(app, root_path="/Prod").get("/openapi.json").json()
    assert document["servers"] == [{"url": "/Prod"}]


def test_the_jobs_body_lists_every_task_with_its_own_arguments(document: dict[str, Any]) -> None:
    body = operation(document, "post", "/jobs")["requestBody"]["content"]["application/json"]
    mapping = body["schema"]["discriminator"]["mapping"]
    schemas = document["components"]["schemas"]

    # The app builds its document once; tasks that other test modules register into
    # the default registry later are not in it (on Lambda, all register at import).
    examples = {"send_welcome_email", "generate_report", "charge_customer", "always_fail"}
    assert examples <= set(mapping) <= {task.name for task in registry}
    report = schemas["generate_report_job"]
    assert report["properties"]["task"] == {"const": "generate_report"}
    assert report["required"] == ["task", "args"]
    args = schemas["generate_report_args"]
    assert set(args["required"]) == {"user_id", "month"}
    assert args["additionalProperties"] is False
    # No arguments to give: "args" may be left out.
    assert schemas["always_fail_job"]["required"] == ["task"]


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
