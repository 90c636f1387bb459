"""Backoff: exponential growth, the cap, jitter bounds."""

from __future__ import annotations

import pytest

from offpath.retry import MAX_VISIBILITY_S, Backoff


def test_exponential_growth_is_capped() -> None:
    backoff = Backoff(base_s=2, cap_s=30, jitter="none")
    assert [backoff.delay_s(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 1), (0.5, 4), (1.0, 8)])
def test_full_jitter_draws_between_zero_and_the_delay_never_below_one(
    draw: float, expected: int
) -> None:
    assert Backoff(base_s=2, cap_s=60, jitter="full").delay_s(3, lambda: draw) == expected


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 4), (1.0, 8)])
def test_equal_jitter_keeps_at_least_half(draw: float, expected: int) -> None:
    assert Backoff(base_s=2, cap_s=60, jitter="equal").delay_s(3, lambda: draw) == expected


def test_bad_backoffs_are_refused() -> None:
    with pytest.raises(ValueError, match="base_s"):
        Backoff(base_s=10, cap_s=5)
    with pytest.raises(ValueError, match="SQS limit"):
        Backoff(base_s=1, cap_s=MAX_VISIBILITY_S + 1)
