"""Command-line values in SAM's formats: ``--parameter-overrides`` and clock durations."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

from offpath.errors import ConfigurationError

_LONG_FORM = re.compile(r"^ParameterKey=(?P<key>[^,]+),ParameterValue=(?P<value>.*)$")
_DURATION = re.compile(r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[dhms]?)")
_UNIT_S = {"d": 86_400, "h": 3_600, "m": 60, "s": 1, "": 1}


class ParameterError(ConfigurationError):
    """A parameter override or a duration that cannot be read."""


def parse_parameter_overrides(values: Iterable[str]) -> dict[str, str]:
    """``Key=Value`` pairs, as ``sam deploy``/``sam local`` take them.

    Each value may hold several space-separated pairs (quoted values keep their
    spaces), in the short form ``Key=Value`` or CloudFormation's long form
    ``ParameterKey=Key,ParameterValue=Value``.

    Example:
        >>> parse_parameter_overrides(["WorkerBatchSize=5 'AlarmEmail=a b@x'"])
        {'WorkerBatchSize': '5', 'AlarmEmail': 'a b@x'}

    Raises:
        ParameterError: a pair without ``=``.
    """
    parsed: dict[str, str] = {}
    for value in values:
        for pair in shlex.split(value):
            long_form = _LONG_FORM.match(pair)
            if long_form:
                parsed[long_form["key"]] = long_form["value"]
                continue
            key, sep, item = pair.partition("=")
            if not sep or not key:
                raise ParameterError(f"parameter override {pair!r} is not Key=Value")
            parsed[key] = item
    return parsed


def parse_duration(text: str) -> float:
    """Seconds in ``3d``, ``2h30m``, ``90m``, ``1.5h``, ``45s`` or ``120``.

    Raises:
        ParameterError: anything else, or a negative or zero duration.
    """
    cleaned = text.strip().lower()
    position, total = 0, 0.0
    for found in _DURATION.finditer(cleaned):
        if found.start() != position or not found.group(0):
            break
        total += float(found["amount"]) * _UNIT_S[found["unit"]]
        position = found.end()
    if not cleaned or position != len(cleaned):
        raise ParameterError(f"{text!r} is not a duration (e.g. 3d, 2h30m, 90s)")
    if total <= 0:
        raise ParameterError("the clock only moves forward: give a positive duration")
    return total
