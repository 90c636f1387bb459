"""moto's pure per-request work, done once: the simulation's only savings inside moto.

Every UpdateItem parses its UpdateExpression twice (moto's handler checks the names
used, its backend parses again) and lexes its ConditionExpression twice; our store
sends a few fixed expressions thousands of times. Both steps are pure functions of
the expression string, and neither result is changed afterwards:

- the UpdateExpression AST is only read (``find_clauses``) before
  ``UpdateExpressionValidator`` deep-copies it, and every later step (validation,
  ``normalize``, execution) works on that copy;
- the condition lexer's nodes are immutable named tuples (their ``children`` lists
  empty, never appended to); the parser consumes the deque, so each call gets a
  fresh one.

Two more answers depend on a class alone: the methods of a response class (listed on
every request) and the node classes a validator handles (asked at every node of every
traversal; each validator's map is a literal keyed by node classes).

So caches keyed by the string or the class cannot change any result
(``tests/sim/test_memo.py`` checks that what is cached still equals a fresh parse
after a batch of runs).
"""

from __future__ import annotations

import importlib
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# moto's parsing modules are untyped: handled as Any.
_responses: Any = importlib.import_module("moto.core.responses")
_comparisons: Any = importlib.import_module("moto.dynamodb.comparisons")
_ast_nodes: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
_expressions: Any = importlib.import_module("moto.dynamodb.parsing.expressions")

_Parser = _expressions.UpdateExpressionParser
_Condition = _comparisons.ConditionExpressionParser
_Traverser = _ast_nodes.DepthFirstTraverser
_original_make: Callable[[str], Any] = _Parser.make
_original_lex: Callable[[Any], deque[Any]] = _Condition._lex_condition_expression
_original_method_names: Callable[[object], list[str]] = _responses.method_names_from_class
_original_kinds: Callable[[Any], tuple[type, ...]] = _Traverser.nodes_to_be_processed

updates: dict[str, Any] = {}  # UpdateExpression -> its AST
conditions: dict[str, tuple[Any, ...]] = {}  # ConditionExpression -> its tokens
_methods: dict[object, list[str]] = {}
_kinds: dict[type, tuple[type, ...]] = {}


def _make(cls: type, expression: str) -> Any:
    if expression not in updates:
        updates[expression] = _original_make(expression)
    return updates[expression]


def _lex(self: Any) -> deque[Any]:
    expression: str = self.condition_expression
    if expression not in conditions:
        conditions[expression] = tuple(_original_lex(self))
    return deque(conditions[expression])


def _method_names(clazz: object) -> list[str]:
    if clazz not in _methods:
        _methods[clazz] = _original_method_names(clazz)
    return list(_methods[clazz])


def _node_kinds(self: Any) -> tuple[type, ...]:
    kind = type(self)
    if kind not in _kinds:
        _kinds[kind] = _original_kinds(self)
    return _kinds[kind]


@contextmanager
def memoised_parsing() -> Iterator[None]:
    """moto does each of these pieces of work once while this is open."""
    patches = [
        (_Parser, "make", classmethod(_make)),
        (_Condition, "_lex_condition_expression", _lex),
        (_responses, "method_names_from_class", _method_names),
        (_Traverser, "nodes_to_be_processed", _node_kinds),
    ]
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def fresh_update(expression: str) -> Any:
    """The expression parsed anew, bypassing the cache."""
    return _original_make(expression)


def fresh_condition(expression: str) -> tuple[Any, ...]:
    """The condition lexed anew, bypassing the cache."""
    return tuple(_original_lex(_Condition(expression, {}, {})))
