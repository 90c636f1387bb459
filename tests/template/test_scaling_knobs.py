"""The scaling knobs in template.yaml: off by default, each one works when set, and the
Rules refuse provisioned pollers together with MaximumConcurrency.

Every worker (a function an SQS event source invokes) is checked, whatever it is
called: the workers are found in the CloudFormation that SAM generates, and each
knob by the parameters its properties refer to, never by a fixed list of names.
Values are resolved with the emulator's resolver (conditions and ``AWS::NoValue``
as CloudFormation applies them), the parameters given as strings, as
``--parameter-overrides`` passes them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from offpath.local.template import Resolver, TemplateError, check_rules, parameter_defaults
from offpath.local.topology import read_topology

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
SAM = yaml_parse(TEMPLATE_PATH.read_text(encoding="utf-8"))
JsonDict = dict[str, Any]


class NoManagedPolicies:
    def load(self) -> dict[str, str]:
        raise AssertionError("the SAM translator asked for AWS managed policies (a network call)")


@pytest.fixture(scope="module")
def cfn(monkeypatch_module: pytest.MonkeyPatch) -> JsonDict:
    template = copy.deepcopy(SAM)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://offpath-artifacts/function.zip"
    monkeypatch_module.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch_module.delenv("AWS_REGION", raising=False)
    monkeypatch_module.delenv("AWS_PROFILE", raising=False)
    transformed: JsonDict = transform(template, {}, NoManagedPolicies())
    return transformed


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def mappings(cfn: JsonDict) -> dict[str, JsonDict]:
    """Each worker function's logical id -> its SQS event source mapping's properties."""
    found = {}
    for resource in cfn["Resources"].values():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            alias = cfn["Resources"][resource["Properties"]["FunctionName"]["Ref"]]
            found[alias["Properties"]["FunctionName"]["Ref"]] = resource["Properties"]
    return found


def resolved(cfn: JsonDict, value: Any, **overrides: str) -> Any:
    """``value`` as CloudFormation would deploy it with these parameter overrides."""
    parameters = parameter_defaults(cfn, overrides)
    check_rules(cfn, parameters)
    resolver = Resolver(parameters=parameters, pseudo={}, conditions=cfn["Conditions"])
    return resolver.resolve({"value": value}).get("value")


def refs(value: Any) -> set[str]:
    """The parameters ``value`` refers to (inside conditions' branches too)."""
    text = json.dumps(value)
    return {
        name
        for name in SAM["Parameters"]
        if f'"Ref": "{name}"' in text
        or any(f'"Ref": "{name}"' in json.dumps(SAM["Conditions"][c]) for c in _conditions(text))
    }


def _conditions(text: str) -> list[str]:
    return [c for c in SAM["Conditions"] if f'"{c}"' in text]


def knob(cfn: JsonDict, value: Any, word: str) -> str:
    """The one parameter of ``value`` whose name has ``word`` (Minimum, Maximum...)."""
    (name,) = [p for p in refs(value) if word in p]
    return name


def test_every_worker_has_each_knob_and_all_are_off_by_default(cfn: JsonDict) -> None:
    workers = mappings(cfn)
    assert workers, "no SQS event source in the template"
    for function, mapping in workers.items():
        assert resolved(cfn, mapping.get("ProvisionedPollerConfig")) is None, function
        scaling = resolved(cfn, mapping.get("ScalingConfig"))
        maximum = knob(cfn, mapping["ScalingConfig"], "MaxConcurrency")
        assert scaling == {"MaximumConcurrency": SAM["Parameters"][maximum]["Default"]}
        reserved = cfn["Resources"][function]["Properties"].get("ReservedConcurrentExecutions")
        assert reserved is not None, f"{function}: no reserved-concurrency knob"
        assert resolved(cfn, reserved) is None, f"{function} reserves concurrency by default"


def test_provisioned_pollers_replace_maximum_concurrency_on_every_worker(cfn: JsonDict) -> None:
    for function, mapping in mappings(cfn).items():
        pollers = mapping["ProvisionedPollerConfig"]
        low, high = knob(cfn, pollers, "Minimum"), knob(cfn, pollers, "Maximum")
        maximum = knob(cfn, mapping["ScalingConfig"], "MaxConcurrency")
        on = {low: "2", high: "50", maximum: "0"}

        assert resolved(cfn, pollers, **on) == {"MinimumPollers": "2", "MaximumPollers": "50"}
        assert resolved(cfn, mapping["ScalingConfig"], **on) is None, function
        assert resolved(cfn, pollers, **{high: "100", maximum: "0"}) == {"MaximumPollers": "100"}


def test_the_rules_refuse_pollers_together_with_maximum_concurrency(cfn: JsonDict) -> None:
    for mapping in mappings(cfn).values():
        pollers = mapping["ProvisionedPollerConfig"]
        high = knob(cfn, pollers, "Maximum")
        low = knob(cfn, pollers, "Minimum")

        with pytest.raises(TemplateError, match="cannot be combined"):
            resolved(cfn, pollers, **{high: "50"})  # WorkerMaxConcurrency keeps its 5
        with pytest.raises(TemplateError, match="cannot be combined"):
            resolved(cfn, pollers, **{low: "3"})
        with pytest.raises(TemplateError, match="2 pollers at least"):
            resolved(cfn, pollers, **{high: "1", knob(cfn, mapping["ScalingConfig"], "Max"): "0"})


def test_reserved_concurrency_is_set_per_worker(cfn: JsonDict) -> None:
    for function in mappings(cfn):
        reserved = cfn["Resources"][function]["Properties"]["ReservedConcurrentExecutions"]
        (name,) = refs(reserved)

        assert resolved(cfn, reserved, **{name: "40"}) == "40"


def test_the_table_caps_its_on_demand_throughput_only_when_asked(cfn: JsonDict) -> None:
    (table,) = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    caps = table["Properties"]["OnDemandThroughput"]
    reads, writes = knob(cfn, caps, "Read"), knob(cfn, caps, "Write")

    assert resolved(cfn, caps) is None
    assert resolved(cfn, caps, **{writes: "1000"}) == {"MaxWriteRequestUnits": "1000"}
    both = resolved(cfn, caps, **{reads: "3000", writes: "1000"})
    assert both == {"MaxReadRequestUnits": "3000", "MaxWriteRequestUnits": "1000"}


# Each knob's "on" value, by what its parameter's name ends with (any worker's).
ON = {
    "MaxConcurrency": "0",
    "MinimumPollers": "2",
    "MaximumPollers": "50",
    "ReservedConcurrency": "3",
    "MaxReadUnits": "3000",
    "MaxWriteUnits": "1000",
}


def knobs_on() -> dict[str, str]:
    found = {
        name: value
        for name in SAM["Parameters"]
        for suffix, value in ON.items()
        if name.endswith(suffix)
    }
    assert {s for s in ON if any(n.endswith(s) for n in found)} == set(ON)
    return found


def test_cfn_lint_is_clean_with_every_knob_switched_on(tmp_path: Path) -> None:
    """Each knob's default set to 'on', then linted: the properties AWS would get."""
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    for name, new in knobs_on().items():
        block = re.compile(rf"(\n  {name}:\n    Type: Number\n    Default: )\S+\n")
        text, count = block.subn(rf"\g<1>{new}\n", text)
        assert count == 1, f"{name}: no Type then Default lines to switch on"
    variant = tmp_path / "template.yaml"
    variant.write_text(text, encoding="utf-8")

    matches = lint_file(variant, ManualArgs(include_checks=["I"]))

    assert [str(m) for m in matches] == []
    assert "Default: 1000\n" in text


def test_offpath_dev_applies_the_rules_and_the_reserved_concurrency() -> None:
    pollers_only = {n: v for n, v in knobs_on().items() if n.endswith("Pollers")}
    with pytest.raises(TemplateError, match="cannot be combined"):
        read_topology(TEMPLATE_PATH, parameters=pollers_only)

    topology = read_topology(TEMPLATE_PATH, parameters=knobs_on())

    workers = [f for f in topology.functions.values() if f.sqs_events]
    assert workers
    assert {f.reserved_concurrency for f in workers} == {3}
    assert all(e.max_concurrency is None for f in workers for e in f.sqs_events)
    assert all("OnDemandThroughput" not in t.create for t in topology.tables.values())
