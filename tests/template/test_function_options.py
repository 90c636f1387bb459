"""Function-wide template options: each reaches every function, whatever it is called.

Each option is a Parameter whose default keeps the functions as they were; the
tests transform the template offline (as tests/template/test_template.py does) with
the option at its default and switched on, and check every function of the result.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
from tests.support import TEMPLATE

JsonDict = dict[str, Any]

SAM: JsonDict = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
FUNCTIONS = sorted(
    k for k, r in SAM["Resources"].items() if r["Type"] == "AWS::Serverless::Function"
)


class NoManagedPolicies:
    def load(self) -> dict[str, str]:
        raise AssertionError("the SAM translator asked for AWS managed policies (a network call)")


def transformed(parameters: dict[str, str] | None = None) -> JsonDict:
    """The CloudFormation SAM generates, for these parameter values."""
    template = copy.deepcopy(SAM)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://offpath-artifacts/function.zip"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.delenv("AWS_REGION", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        result: JsonDict = transform(template, parameters or {}, NoManagedPolicies())
    return result


@pytest.fixture(scope="module")
def default() -> JsonDict:
    return transformed()


def lambda_functions(template: JsonDict) -> dict[str, JsonDict]:
    found = {
        k: r["Properties"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert set(found) == set(FUNCTIONS), "one Lambda function per serverless function"
    return found


def parameter(name: str) -> JsonDict:
    found: JsonDict = SAM["Parameters"][name]
    assert found.get("Description"), f"{name} says what it does"
    return found


# ---------------------------------------------------------------- log level


def test_every_function_logs_at_the_log_level_parameter(default: JsonDict) -> None:
    assert parameter("LogLevel")["Default"] == "INFO"
    assert {"WARNING", "ERROR"} <= set(parameter("LogLevel")["AllowedValues"])
    for name, props in lambda_functions(default).items():
        variables = props["Environment"]["Variables"]
        assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}, name
