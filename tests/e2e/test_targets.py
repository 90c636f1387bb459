"""The deployed-stack target: never faked, skipped with its reason without credentials."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

import tests.e2e.conftest as e2e
from tests.e2e.target import from_outputs


class _Config:
    def __init__(self, **options: str | None) -> None:
        self.options = {"--stack-name": "offpath", "--stack-region": "eu-west-1", **options}

    def getoption(self, name: str) -> str | None:
        return self.options.get(name)


def test_without_credentials_the_deployed_suite_is_skipped_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    nowhere = str(tmp_path / "none")
    shell = {
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
        "AWS_CONFIG_FILE": nowhere,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    monkeypatch.setattr(e2e, "REAL_AWS", shell)

    with pytest.raises(pytest.skip.Exception, match="no AWS credentials found"):
        e2e._deployed(_Config())  # type: ignore[arg-type]


def test_a_stack_without_the_outputs_the_suite_reads_is_refused() -> None:
    session = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"
    )

    with pytest.raises(LookupError, match="no output SchedulerFunctionName: redeploy"):
        from_outputs(
            "old",
            {
                "ApiUrl": "https://x/",
                "JobsQueueUrl": "q",
                "DeadLetterQueueUrl": "d",
                "JobsTableName": "t",
            },
            session,
        )


def test_the_iam_routes_are_signed_with_sigv4_for_execute_api_and_the_others_are_not() -> None:
    target = from_outputs(
        "signed",
        {k: "https://api.example.com/" for k in ("ApiUrl", "JobsQueueUrl", "DeadLetterQueueUrl")}
        | {"JobsTableName": "t", "SchedulerFunctionName": "f"},
        boto3.session.Session(
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s", region_name="eu-west-1"
        ),
    )

    headers = target._sign("POST", "https://api.example.com/jobs", b"{}", {})

    assert (
        headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        and "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    )
    assert target._signed("POST", "/jobs") and target._signed("DELETE", "/jobs/abc")
    assert not target._signed("GET", "/jobs/abc") and not target._signed("POST", "/reports")
