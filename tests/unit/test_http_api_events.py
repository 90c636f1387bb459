"""The local HttpApi builds payload format 2.0 events as API Gateway builds them.

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
"""

from __future__ import annotations

import base64

import pytest

from offpath.local.http_api import Route, build_event, match_route
from offpath.local.topology import RouteSpec

ROUTES = [
    Route.compile(RouteSpec("Cancel", "DELETE", "/jobs/{job_id}", "AWS_IAM")),
    Route.compile(RouteSpec("Proxy", "ANY", "/{proxy+}", None)),
]


def _event(method: str, target: str, body: bytes = b"", **headers: str) -> dict[str, object]:
    found = match_route(ROUTES, method, target.split("?")[0])
    assert found is not None
    route, params = found
    return build_event(
        route, params, method, target, dict(headers), body, "127.0.0.1:3000", "10.1.2.3", port=3000
    )


def test_path_parameters_are_url_decoded_and_the_raw_path_is_not() -> None:
    event = _event("DELETE", "/jobs/a%20b%2Fc")

    assert event["pathParameters"] == {"job_id": "a b/c"}
    assert event["rawPath"] == "/jobs/a%20b%2Fc"


def test_the_forwarding_headers_api_gateway_adds_are_there() -> None:
    event = _event("GET", "/healthz", b"", **{"x-forwarded-for": "192.0.2.9"})
    headers = event["headers"]

    assert isinstance(headers, dict)
    assert headers["x-forwarded-for"] == "192.0.2.9, 10.1.2.3"
    assert headers["x-forwarded-port"] == "3000"
    assert headers["x-forwarded-proto"] == "http"
    assert str(headers["x-amzn-trace-id"]).startswith("Root=1-")


def test_payload_2_has_no_multi_value_fields_and_repeated_query_keys_join() -> None:
    event = _event("GET", "/search?tag=a&tag=b")

    assert "multiValueHeaders" not in event
    assert "multiValueQueryStringParameters" not in event
    assert event["queryStringParameters"] == {"tag": "a,b"}


def test_an_iam_route_carries_the_whole_iam_identity() -> None:
    scope = "20260101/us-east-1/execute-api/aws4_request"
    signed = f"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE123/{scope}, SignedHeaders=host"
    event = _event("DELETE", "/jobs/j1", authorization=signed)
    context = event["requestContext"]

    assert isinstance(context, dict)
    iam = context["authorizer"]["iam"]
    assert set(iam) == {
        "accessKey",
        "accountId",
        "callerId",
        "cognitoIdentity",
        "principalOrgId",
        "userArn",
        "userId",
    }
    assert iam["accessKey"] == "AKIAEXAMPLE123"
    assert iam["accountId"] == "123456789012"


@pytest.mark.parametrize(
    ("content_type", "body", "encoded"),
    [
        ("application/x-www-form-urlencoded", b"\xff", True),  # curl -d $'\xff'
        ("application/json", b'{"a": "\xc3\xa9"}', False),
        ("application/octet-stream", b"plain", True),
        ("text/plain", b"\xfe\xff", True),
    ],
)
def test_a_body_that_is_not_utf8_text_is_passed_base64_encoded(
    content_type: str, body: bytes, encoded: bool
) -> None:
    event = _event("POST", "/signup", body, **{"content-type": content_type})

    assert event["isBase64Encoded"] is encoded
    sent = str(event["body"])
    assert (base64.b64decode(sent) if encoded else sent.encode()) == body


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_a_method_no_route_key_can_name_matches_no_route(method: str) -> None:
    assert match_route(ROUTES, method, "/anything") is None
