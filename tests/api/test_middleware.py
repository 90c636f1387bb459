"""Pure functions of the middleware: no AWS, no app."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from offpath.fastapi.middleware import api_prefix, correlation_id_for
from tests.api.events import http_api_event, rest_api_event


@pytest.mark.parametrize(
    ("event", "prefix"),
    [
        (rest_api_event(stage="Prod"), "/Prod"),
        (rest_api_event(path="/", stage="Prod"), "/Prod"),
        (http_api_event(stage="$default"), ""),
        (http_api_event(stage="v1"), "/v1"),
        (
            {"path": "/healthz", "requestContext": {"path": "/payments-api/healthz"}},
            "/payments-api",
        ),
        ({"path": "/healthz", "requestContext": {"path": "/healthz"}}, ""),
        ({"path": "/healthz", "requestContext": {"path": "/a b/healthz"}}, ""),
        ({"version": "2.0", "requestContext": {"stage": "v1", "http": {"path": "/x"}}}, ""),
        ({}, ""),
    ],
    ids=[
        "rest-stage",
        "rest-root",
        "http-default",
        "http-named",
        "custom-domain-base-path",
        "no-prefix",
        "unsafe-prefix",
        "stage-not-in-path",
        "empty",
    ],
)
def test_api_prefix(event: dict[str, Any], prefix: str) -> None:
    assert api_prefix(event) == prefix


@pytest.mark.parametrize(
    ("headers", "event", "expected"),
    [
        (
            [(b"x-correlation-id", b"order-77")],
            {"requestContext": {"requestId": "r-1"}},
            "order-77",
        ),
        ([(b"x-correlation-id", b"bad value")], {"requestContext": {"requestId": "r-1"}}, "r-1"),
        ([], {"requestContext": {"requestId": "r-1"}}, "r-1"),
        # An HTTP API's request ids are base64: about 1 in 32 starts with "+" or "/".
        ([], {"requestContext": {"requestId": "+dFD2ahNmoAMEJp="}}, "+dFD2ahNmoAMEJp="),
        ([], {"requestContext": {"requestId": "/dFD2ahNmoAMEJp="}}, "/dFD2ahNmoAMEJp="),
    ],
)
def test_correlation_id_for(
    headers: list[tuple[bytes, bytes]], event: dict[str, Any], expected: str
) -> None:
    scope = {"type": "http", "headers": headers, "aws.event": event}
    assert correlation_id_for(scope) == expected


def test_a_new_correlation_id_when_there_is_nothing_to_use() -> None:
    first = correlation_id_for({"type": "http", "headers": []})
    assert len(first) == 32
    assert first != correlation_id_for({"type": "http", "headers": []})


def test_an_untyped_json_body_is_read_as_json_like_curl_d_sends_it(client: TestClient) -> None:
    body = b'{"user_id": 42, "month": "2026-06"}'
    for content_type in ("application/x-www-form-urlencoded", None):
        headers = {"content-type": content_type} if content_type else {}
        response = client.post("/reports", content=body, headers=headers)
        assert response.status_code == 202, response.text


def test_an_untyped_body_that_is_not_json_is_still_a_precise_422(client: TestClient) -> None:
    response = client.post(
        "/reports",
        content=b"user_id=42&month=2026-06",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
