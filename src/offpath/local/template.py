"""Reads ``template.yaml``: the one description of the topology.

The emulator and the tests build everything from what this module extracts; nothing
else in the repository declares a queue, a table, a function or a schedule.
Intrinsic functions are resolved against local values (stack name, region, account,
parameter defaults, the ids of the resources created here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfn_tools import load_yaml

from offpath.errors import ConfigurationError

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class _NoValue:
    """``!Ref AWS::NoValue``: the property (or list item) it stands for is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


class TemplateError(ConfigurationError):
    """The template uses something offpath cannot run locally, or is malformed."""


def load_template(path: Path) -> dict[str, Any]:
    """Parse a SAM/CloudFormation YAML template, short-form tags included."""
    try:
        raw = load_yaml(path.read_text())
    except Exception as exc:  # cfn-flip's YAML loader raises many types
        raise TemplateError(f"{path}: cannot parse: {exc}") from exc
    data: dict[str, Any] = json.loads(json.dumps(raw))  # ODicts to plain dicts
    if "Resources" not in data:
        raise TemplateError(f"{path}: no Resources section")
    return data


@dataclass
class Resolver:
    """Evaluates intrinsic functions with the values known locally."""

    parameters: dict[str, Any]
    pseudo: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)  # logical id -> Ref value
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)  # GetAtt values
    conditions: dict[str, Any] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._functions().get(key)
            if handler is not None:
                return handler(arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": lambda a: str(a[0]).join(str(x) for x in self.resolve(a[1])),
            "Fn::If": self._if,
            "Fn::Equals": lambda a: _same(self.resolve(a[0]), self.resolve(a[1])),
            "Fn::Contains": lambda a: any(_same(x, self.resolve(a[1])) for x in self.resolve(a[0])),
            "Fn::Not": lambda a: not self.resolve(a[0]),
            "Fn::And": lambda a: all(self.resolve(x) for x in a),
            "Fn::Or": lambda a: any(self.resolve(x) for x in a),
            "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
            "Fn::Split": lambda a: str(self.resolve(a[1])).split(a[0]),
            "Condition": lambda name: self.condition(name),
        }

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"unknown condition {name!r}")
        return bool(self.resolve(self.conditions[name]))

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"!Ref {name}: not a parameter or a locally created resource")

    def _get_att(self, arg: Any) -> str:
        logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
        try:
            return self.attrs[(logical, attr)]
        except KeyError:
            raise TemplateError(f"!GetAtt {logical}.{attr}: not available locally") from None

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name:
                return str(self._get_att(name))
            return str(self._ref(name))

        return _SUB_VAR.sub(replace, text)

    def _if(self, arg: list[Any]) -> Any:
        return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])


def _same(a: Any, b: Any) -> bool:
    """``Fn::Equals`` as CloudFormation compares: parameter values are strings there, so
    a default of ``0`` (an int in YAML) equals an override of ``"0"``."""
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return bool(a == b)
    return _text(a) == _text(b)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_rules(template: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
    """Refuse parameter values the template's ``Rules`` refuse, as CloudFormation does
    before it creates anything (a ``RuleCondition`` first says whether a rule applies).

    Raises:
        TemplateError: an assertion fails (its ``AssertDescription`` says why), or a
            rule uses a function offpath does not evaluate.
    """
    resolver = Resolver(parameters=dict(parameters), pseudo={})
    for name, rule in template.get("Rules", {}).items():
        try:
            if "RuleCondition" in rule and not resolver.resolve(rule["RuleCondition"]):
                continue
            failed = [
                a.get("AssertDescription", f"rule {name}")
                for a in rule.get("Assertions", [])
                if not resolver.resolve(a["Assert"])
            ]
        except (TemplateError, KeyError, TypeError, IndexError) as exc:
            raise TemplateError(f"rule {name}: cannot evaluate it locally: {exc}") from exc
        if failed:
            raise TemplateError(f"rule {name}: " + "; ".join(failed))


def parameter_defaults(template: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values: overrides, else the template's defaults.

    Raises:
        TemplateError: an override naming no parameter of the template, or a
            parameter with neither a value nor a default.
    """
    unknown = sorted(set(overrides) - set(template.get("Parameters", {})))
    if unknown:
        known = ", ".join(sorted(template.get("Parameters", {}))) or "none"
        raise TemplateError(f"no parameter {', '.join(unknown)} in the template (it has: {known})")
    values: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in overrides:
            values[name] = overrides[name]
        elif "Default" in spec:
            values[name] = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default; pass a value for it")
    return values
