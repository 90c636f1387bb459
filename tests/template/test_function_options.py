"""Function-wide template options: each reaches every function, whatever it is called.

Each option is a Parameter whose default keeps the functions as they were; the
tests transform the template offline (as tests/template/test_template.py does) with
the option at its default and switched on, and check every function of the result.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
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


# ---------------------------------------------------------------- SnapStart and the alias


def _resources_of(template: JsonDict, kind: str) -> dict[str, JsonDict]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == kind}


@pytest.mark.parametrize(("snap_start", "apply_on"), [("Off", "None"), ("On", "PublishedVersions")])
def test_snapstart_applies_to_the_published_versions_of_every_function(
    snap_start: str, apply_on: str
) -> None:
    assert parameter("SnapStart")["Default"] == "Off"
    parameters = {"SnapStart": snap_start}
    template = transformed(parameters)
    for name, props in lambda_functions(template).items():
        assert resolved(template, parameters, props["SnapStart"]) == {"ApplyOn": apply_on}, name


def test_every_function_fits_snapstarts_limits(default: JsonDict) -> None:
    # SnapStart takes Python 3.12 or later in a .zip package, and neither provisioned
    # concurrency, EFS nor more than 512 MB of ephemeral storage.
    for name, props in lambda_functions(default).items():
        runtime = re.fullmatch(r"python3\.(\d+)", props["Runtime"])
        assert runtime and int(runtime.group(1)) >= 12, name
        assert props.get("PackageType", "Zip") == "Zip", name
        assert "FileSystemConfigs" not in props, name
        assert props.get("EphemeralStorage", {}).get("Size", 512) <= 512, name
    for kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        for name, props in _resources_of(default, kind).items():
            assert "ProvisionedConcurrencyConfig" not in props, name


def test_every_event_source_invokes_the_published_alias(default: JsonDict) -> None:
    # SnapStart runs only in published versions: whatever invokes a function invokes
    # its alias `live`, which points at its latest version.
    aliases = _resources_of(default, "AWS::Lambda::Alias")
    alias_of = {props["FunctionName"]["Ref"]: alias for alias, props in aliases.items()}
    assert sorted(alias_of) == FUNCTIONS and {p["Name"] for p in aliases.values()} == {"live"}
    versions = _resources_of(default, "AWS::Lambda::Version")
    for alias, props in aliases.items():
        (version,) = props["FunctionVersion"]["Fn::GetAtt"][:1]
        assert versions[version]["FunctionName"] == props["FunctionName"], alias
    alias_refs = [{"Ref": a} for a in aliases]

    mappings = _resources_of(default, "AWS::Lambda::EventSourceMapping")
    permissions = _resources_of(default, "AWS::Lambda::Permission")
    schedules = _resources_of(default, "AWS::Scheduler::Schedule")
    invoke_configs = _resources_of(default, "AWS::Lambda::EventInvokeConfig")
    assert mappings and permissions and schedules and invoke_configs
    assert all(m["FunctionName"] in alias_refs for m in mappings.values())
    assert all(p["FunctionName"] in alias_refs for p in permissions.values())
    assert all(c["Qualifier"] == "live" for c in invoke_configs.values())
    integrations = re.findall(r"/functions/\$\{(\w+)\}/invocations", json.dumps(default))
    assert integrations and set(integrations) <= set(aliases), "the HTTP API invokes the alias"
    for name, schedule in schedules.items():
        target = schedule["Target"]
        assert target["Arn"] in alias_refs, name
        role = default["Resources"][target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
        invokes = [
            s["Resource"]
            for p in role["Policies"]
            for s in p["PolicyDocument"]["Statement"]
            if s["Action"] == "lambda:InvokeFunction"
        ]
        assert invokes == [target["Arn"]], f"{name}'s role may invoke what it targets"


def _parameters_in(value: Any) -> set[str]:
    """The parameters ``value`` refers to, directly or through the conditions it uses."""
    text = json.dumps(value)
    found = {p for p in SAM["Parameters"] if f'"Ref": "{p}"' in text or f"${{{p}}}" in text}
    for condition, definition in SAM["Conditions"].items():
        if f'"{condition}"' in text:
            found |= _parameters_in(definition)
    return found


def configuration_parameters() -> set[str]:
    """The parameters that reach a function's versioned configuration: the Globals'
    and each function's properties, but not its events (not in the version), its
    reserved concurrency (the function's, not a version's) or the version's own
    description."""
    unversioned = {"Events", "ReservedConcurrentExecutions", "VersionDescription"}
    found = _parameters_in(SAM["Globals"]["Function"])
    for name in FUNCTIONS:
        props = SAM["Resources"][name]["Properties"]
        found |= _parameters_in({k: v for k, v in props.items() if k not in unversioned})
    return found


OTHER_LAYER = "arn:aws:lambda:eu-west-3:615299751070:layer:AWSOpenTelemetryDistroPython:10"
# A value other than the default, per parameter; for the layer, with OpenTelemetry on.
CHANGES: dict[str, tuple[dict[str, str], str]] = {
    "SnapStart": ({}, "On"),
    "Architecture": ({}, "arm64"),
    "TracingMode": ({}, "Off"),
    "OpenTelemetryLayerArn": (
        {"TracingMode": "OpenTelemetry", "OpenTelemetryLayerArn": LAYER},
        OTHER_LAYER,
    ),
    "LogLevel": ({}, "DEBUG"),
    "JobEvents": ({}, "true"),
    "WebhookAllowedHosts": ({}, "hooks.example.com"),
}


def version_descriptions(parameters: dict[str, str]) -> dict[str, Any]:
    """Per function, its published version's Description, resolved."""
    template = transformed(parameters)
    return {
        props["FunctionName"]["Ref"]: resolved(template, parameters, props["Description"])
        for props in _resources_of(template, "AWS::Lambda::Version").values()
    }


def test_every_parameter_that_reaches_the_functions_configuration_is_followed() -> None:
    assert configuration_parameters() == set(CHANGES), (
        "a parameter that reaches the functions' configuration goes in every function's "
        "VersionDescription (and in CHANGES here)"
    )


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_parameter_change_publishes_a_new_version_of_every_function(name: str) -> None:
    # SAM's version hash sees `!Ref <name>`, not its value: the version's Description
    # carries the value, and a new Description replaces the version, that is,
    # publishes one, to which the alias moves.
    base, value = CHANGES[name]
    before = version_descriptions(base)
    after = version_descriptions({**base, name: value})

    assert sorted(before) == FUNCTIONS
    for function in FUNCTIONS:
        assert before[function] != after[function], function


def test_the_version_description_fits_lambdas_256_characters() -> None:
    longest: dict[str, str] = {}
    for name in configuration_parameters():
        spec = SAM["Parameters"][name]
        if "AllowedValues" in spec:
            longest[name] = max(map(str, spec["AllowedValues"]), key=len)
        else:
            assert "MaxLength" in spec, f"{name}: bound it (it goes in VersionDescription)"
            longest[name] = "a" * int(spec["MaxLength"])
    prefix, suffix = "arn:aws:lambda:us-east-1:123456789012:layer:", ":1"
    longest["OpenTelemetryLayerArn"] = prefix + "L" * (140 - len(prefix) - len(suffix)) + suffix
    assert (
        len(longest["OpenTelemetryLayerArn"])
        == SAM["Parameters"]["OpenTelemetryLayerArn"]["MaxLength"]
    )
    for tracing in SAM["Parameters"]["TracingMode"]["AllowedValues"]:
        parameters = {**longest, "TracingMode": tracing}
        for function, description in version_descriptions(parameters).items():
            assert len(description) <= 256, (function, tracing, description)


# ---------------------------------------------------------------- each option linted


def _with_defaults(text: str, defaults: dict[str, str]) -> str:
    for name, new in defaults.items():
        block = re.compile(rf"(\n  {name}:\n    Type: \w+\n(?:    #.*\n)*    Default: )\S+\n")
        text, count = block.subn(rf'\g<1>"{new}"\n', text)
        assert count == 1, f"{name}: no Type then Default lines to switch"
    return text


@pytest.mark.parametrize(
    "option",
    [
        {"SnapStart": "On"},
        {"Architecture": "arm64"},
        {"TracingMode": "OpenTelemetry", "OpenTelemetryLayerArn": LAYER},
    ],
    ids=["snapstart", "arm64", "opentelemetry"],
)
def test_cfn_lint_is_clean_with_each_option_on(tmp_path: Path, option: dict[str, str]) -> None:
    """The option's parameters set as the defaults, then linted as `sam validate --lint`
    would (it takes no parameter values), and transformed."""
    variant = tmp_path / "template.yaml"
    variant.write_text(_with_defaults(TEMPLATE.read_text(encoding="utf-8"), option), "utf-8")
    check_rules(SAM, parameter_defaults(SAM, option))

    matches = lint_file(variant, ManualArgs(include_checks=["I"]))

    assert [str(m) for m in matches] == []
    assert lambda_functions(transformed(option))
