"""Function-wide template options: each reaches every function, whatever it is called.

Each option is a Parameter whose default keeps the functions as they were; the
tests transform the template offline (as tests/template/test_template.py does) with
the option at its default and switched on, and check every function of the result.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
from tests.support import ROOT, TEMPLATE

from offpath.local.template import Resolver, TemplateError, check_rules, parameter_defaults

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


# ---------------------------------------------------------------- architecture


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_every_function_runs_on_the_architecture_parameter(architecture: str) -> None:
    assert parameter("Architecture")["Default"] == "x86_64"
    template = transformed({"Architecture": architecture})
    for name, props in lambda_functions(template).items():
        assert props["Architectures"] == [{"Ref": "Architecture"}], name


@pytest.mark.parametrize(
    ("architecture", "platform"),
    [("x86_64", "manylinux2014_x86_64"), ("arm64", "manylinux2014_aarch64")],
)
def test_the_build_installs_the_wheels_of_the_architecture(
    tmp_path: Path, architecture: str, platform: str
) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        [
            make,
            "-n",
            "-C",
            str(ROOT),
            *(f"build-{f}" for f in FUNCTIONS),
            f"ARTIFACTS_DIR={tmp_path}",
            # Finding a Python 3.12 costs seconds; the wheels do not depend on it.
            "PYTHON=python3",
        ],
        env={**os.environ, "OFFPATH_ARCHITECTURE": architecture},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    installs = re.findall(r"--platform (\S+)", dry.stdout)
    assert len(installs) == len(FUNCTIONS), "one pip install per function"
    assert set(installs) == {platform}


def resolved(template: JsonDict, parameters: dict[str, str], value: Any) -> Any:
    """``value`` with its conditions and parameters resolved as CloudFormation would."""
    resolver = Resolver(
        parameters=parameter_defaults(SAM, parameters),
        pseudo={"AWS::Region": "us-east-1", "AWS::Partition": "aws"},
        conditions=template.get("Conditions", {}),
    )
    result = resolver.resolve({"value": value})
    return result.get("value")


def function_options(parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per function: its tracing, layers and tracing variables, resolved."""
    template = transformed(parameters)
    found = {}
    for name, props in lambda_functions(template).items():
        variables = props["Environment"]["Variables"]
        found[name] = {
            key: resolved(template, parameters, value)
            for key, value in {
                "tracing": props.get("TracingConfig", {}).get("Mode"),
                "layers": props.get("Layers"),
                "mode": variables.get("OFFPATH_TRACING"),
                "wrapper": variables.get("AWS_LAMBDA_EXEC_WRAPPER"),
            }.items()
        }
    return found


# ---------------------------------------------------------------- tracing

LAYER = "arn:aws:lambda:eu-west-3:615299751070:layer:AWSOpenTelemetryDistroPython:9"


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({}, {"tracing": "Active", "layers": None, "mode": "xray", "wrapper": None}),
        (
            {"TracingMode": "OpenTelemetry", "OpenTelemetryLayerArn": LAYER},
            {
                "tracing": "Active",
                "layers": [LAYER],
                "mode": "otel",
                "wrapper": "/opt/otel-instrument",
            },
        ),
        (
            {"TracingMode": "Off"},
            {"tracing": "PassThrough", "layers": None, "mode": "off", "wrapper": None},
        ),
    ],
)
def test_every_function_traces_as_the_tracing_mode_says(
    parameters: dict[str, str], expected: dict[str, Any]
) -> None:
    assert parameter("TracingMode")["Default"] == "XRay"
    for name, options in function_options(parameters).items():
        assert options == expected, name


def test_opentelemetry_without_its_layer_is_refused_before_anything_is_created() -> None:
    with pytest.raises(TemplateError, match="OpenTelemetryNeedsItsLayer"):
        check_rules(SAM, parameter_defaults(SAM, {"TracingMode": "OpenTelemetry"}))
    check_rules(
        SAM,
        parameter_defaults(SAM, {"TracingMode": "OpenTelemetry", "OpenTelemetryLayerArn": LAYER}),
    )
