"""The simulation's memoised moto parsing cannot change a result: what it caches is
never mutated by the calls that use it (tests/sim/memo.py says why)."""

from __future__ import annotations

import importlib
from typing import Any

from tests.sim import memo
from tests.sim.simulator import simulation

Node: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes").Node  # untyped


def _shape(node: Any) -> Any:
    """A node's whole structure, by value (its parent link left out: a cycle)."""
    if isinstance(node, Node):
        fields = {k: _shape(v) for k, v in vars(node).items() if k != "parent"}
        return (type(node).__name__, fields)
    if isinstance(node, list | tuple):
        return [_shape(child) for child in node]
    return node


def test_cached_expressions_equal_a_fresh_parse_after_many_runs() -> None:
    with simulation() as sim:
        for seed in range(30):
            sim.run(seed)
    assert len(memo.updates) >= 4, "the store's update expressions went through the cache"
    for expression, ast in memo.updates.items():
        assert _shape(ast) == _shape(memo.fresh_update(expression)), expression
    for expression, tokens in memo.conditions.items():
        assert tokens == memo.fresh_condition(expression), expression
