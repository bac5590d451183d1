"""Trigger predicates: small boolean expressions over an event's data, evaluated by simpleeval.

Two locks, not one. ``validate_predicate`` walks the expression's syntax tree against a
whitelist before anything runs: attribute access (``x.y``), calls of anything but the functions
below, dunder or underscore names, lambdas, comprehensions, f-strings, walrus and imports (which
are statements, so not even an expression) are refused. It runs when a trigger is saved (model
``clean()``, the admin form, the service) *and* again right before every evaluation, so a row
edited behind the application's back is refused too. simpleeval then evaluates with only our
names and functions, and its own guards (string length, power) apply.

Names are the event data's keys (``new_state``, ``task_type``, ``priority`` …), plus
``event_data`` (the whole dict, for ``event_data['key']``) and ``event_type``. A name the event
does not carry is ``None``.

One attribute access is accepted, because seed 003's own example uses it:
``event_data.get(key[, default])`` — on the name ``event_data`` only, called at once, with one
or two positional arguments. It never reaches simpleeval as an attribute: it is rewritten to
the safe getter ``get(event_data, key[, default])`` before evaluation. Every other attribute
(``event_data.keys()``, ``new_state.upper()``, ``event_data.get.__self__``, a bare
``event_data.get``) is still refused.
"""

from __future__ import annotations

import ast
from typing import Any

from simpleeval import SimpleEval

MAX_PREDICATE_LENGTH = 2000
# simpleeval evaluates recursively: a deeper tree (``not not … x``, ``1+1+…``) would end in a
# RecursionError at dispatch instead of a refusal at save.
MAX_PREDICATE_DEPTH = 50


class PredicateRejected(ValueError):
    """The predicate uses something the sandbox does not allow (or does not parse)."""


def _get(mapping, key, default=None):
    return mapping.get(key, default) if isinstance(mapping, dict) else default


def _lower(value):
    return str(value).lower() if value is not None else ""


def _upper(value):
    return str(value).upper() if value is not None else ""


def _startswith(value, prefix):
    return isinstance(value, str) and value.startswith(str(prefix))


def _endswith(value, suffix):
    return isinstance(value, str) and value.endswith(str(suffix))


FUNCTIONS = {
    "get": _get,
    "len": len,
    "lower": _lower,
    "upper": _upper,
    "startswith": _startswith,
    "endswith": _endswith,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "abs": abs,
    "min": min,
    "max": max,
}

_ALLOWED_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.FloorDiv,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.IfExp,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Subscript,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Call,
)


EVENT_DATA = "event_data"


def _is_event_data_get(node: ast.AST) -> bool:
    """``event_data.get(key)`` / ``event_data.get(key, default)``: the one method call allowed."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == EVENT_DATA
        and 1 <= len(node.args) <= 2
        and not node.keywords
        and not any(isinstance(arg, ast.Starred) for arg in node.args)
    )


class _GetterRewrite(ast.NodeTransformer):
    """``event_data.get(k[, d])`` → ``get(event_data, k[, d])`` (the safe getter)."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if _is_event_data_get(node):
            return ast.Call(func=ast.Name("get", ast.Load()), args=[node.func.value, *node.args], keywords=[])
        return node


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:  # iterative: the depth check itself must not recurse
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _is_sequence(node: ast.AST) -> bool:
    return isinstance(node, ast.List | ast.Tuple | ast.Set) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)
    )


def validate_predicate(expression: str) -> ast.Expression | None:
    """Parse and check ``expression``; raise ``PredicateRejected`` with a reason. Empty: None."""
    text = (expression or "").strip()
    if not text:
        return None
    if len(text) > MAX_PREDICATE_LENGTH:
        raise PredicateRejected(f"Predicate is longer than {MAX_PREDICATE_LENGTH} characters.")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        # ``import os`` and any other statement end up here: a predicate is one expression.
        raise PredicateRejected(f"Predicate is not a valid expression: {exc.msg}.") from None
    if _depth(tree) > MAX_PREDICATE_DEPTH:
        raise PredicateRejected(f"Predicate is nested deeper than {MAX_PREDICATE_DEPTH} levels.")
    nodes = list(ast.walk(tree))
    allowed_calls = {id(node) for node in nodes if _is_event_data_get(node)}
    allowed_attributes = {id(node.func) for node in nodes if id(node) in allowed_calls}
    # The two refusals the issue names come first, so their message is the one a user sees.
    for node in nodes:
        if isinstance(node, ast.Attribute) and id(node) not in allowed_attributes:
            raise PredicateRejected(
                f"Attribute access is not allowed ('.{node.attr}'); "
                "the one method accepted is event_data.get(key[, default])."
            )
        if isinstance(node, ast.Name) and (node.id.startswith("_") or "__" in node.id):
            raise PredicateRejected(f"Name '{node.id}' is not allowed (underscore and dunder names are refused).")
    for node in nodes:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value:
            raise PredicateRejected("Strings containing '__' are not allowed.")
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mult)
            and any(map(_is_sequence, (node.left, node.right)))
        ):
            raise PredicateRejected("Repeating a string or a list ('…' * n) is not allowed.")
        if id(node) in allowed_calls or id(node) in allowed_attributes:
            continue
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise PredicateRejected(f"Function '{name}' is not allowed; allowed: {', '.join(sorted(FUNCTIONS))}.")
            if node.keywords:
                raise PredicateRejected("Keyword arguments are not allowed.")
        if not isinstance(node, _ALLOWED_NODES):
            raise PredicateRejected(f"'{type(node).__name__}' is not allowed in a predicate.")
    return tree


def evaluate_predicate(expression: str, *, event_data: dict[str, Any], event_type: str = "") -> bool:
    """True when the event satisfies the predicate (an empty predicate always does).

    Re-validates first: a predicate that would be refused at save time is never executed.
    """
    tree = validate_predicate(expression)
    if tree is None:
        return True
    # simpleeval gets no attribute access at all: event_data.get(…) becomes get(event_data, …).
    rewritten = ast.unparse(ast.fix_missing_locations(_GetterRewrite().visit(tree)))
    data = dict(event_data or {})
    fixed = {"event_data": data, "event_type": event_type}

    def resolve(node):
        if node.id in fixed:
            return fixed[node.id]
        return data.get(node.id)

    evaluator = SimpleEval(functions=dict(FUNCTIONS), names=resolve)
    # The list, tuple and set literals the whitelist accepts (``x in ['a', 'b']``): plain
    # SimpleEval has none of them and would refuse every such predicate at dispatch.
    evaluator.nodes.update(
        {
            ast.List: lambda node: [evaluator._eval(e) for e in node.elts],
            ast.Tuple: lambda node: tuple(evaluator._eval(e) for e in node.elts),
            ast.Set: lambda node: {evaluator._eval(e) for e in node.elts},
        }
    )
    return bool(evaluator.eval(rewritten))
