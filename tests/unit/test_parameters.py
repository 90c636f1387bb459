"""`--parameter-overrides` and clock durations read as the CLI documents them."""

from __future__ import annotations

import pytest

from offpath.local.parameters import ParameterError, parse_duration, parse_parameter_overrides


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["WorkerBatchSize=5"], {"WorkerBatchSize": "5"}),
        (["A=1 B=2", "C=x=y"], {"A": "1", "B": "2", "C": "x=y"}),
        (["'AlarmEmail=ops team@example.com' A="], {"AlarmEmail": "ops team@example.com", "A": ""}),
        (
            ["ParameterKey=KeyPair,ParameterValue=my,key ParameterKey=B,ParameterValue=2"],
            {"KeyPair": "my,key", "B": "2"},
        ),
    ],
)
def test_parameter_overrides_take_sams_short_and_long_forms(
    values: list[str], expected: dict[str, str]
) -> None:
    assert parse_parameter_overrides(values) == expected


def test_a_pair_without_an_equals_sign_is_refused() -> None:
    with pytest.raises(ParameterError, match="'WorkerBatchSize' is not Key=Value"):
        parse_parameter_overrides(["WorkerBatchSize"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3d", 259_200), ("2h30m", 9_000), ("90m", 5_400), ("1.5h", 5_400), ("45s", 45), ("120", 120)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "3 days", "-1h", "0", "h", "3d2x"])
def test_what_is_not_a_forward_duration_is_refused(text: str) -> None:
    with pytest.raises(ParameterError):
        parse_duration(text)
