"""A small, safe expression language for derived sweep values (no ``eval``).

An expression is arithmetic over numbers and the values of a point's axes and ``set`` keys,
named by their dotted keys::

    derive:
      workload.prompt_tokens: "4 * workload.batch_size"
      hw.devices.gpu0.memory_capacity: {expr: "16 * hw.devices.pim.organization.channels",
                                        unit: "GiB"}

Allowed: integer and float literals, ``+ - * / // % **`` (exponents up to 64), unary ``-``,
parentheses, and the functions ``min``, ``max``, ``abs``, ``round``, ``ceil``, ``floor``,
``log2``. Anything else (attribute access other than a dotted key, calls of other names,
subscripts, strings, comparisons, lambdas) is rejected when the sweep is loaded. The parse uses
:func:`ast.parse` only to read the syntax tree; evaluation walks that tree here.
"""
from __future__ import annotations

import ast
import math
import operator

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCS = {"min": min, "max": max, "abs": abs, "round": round, "ceil": math.ceil,
          "floor": math.floor, "log2": math.log2}
MAX_EXPONENT = 64


class ExprError(ValueError):
    """An expression that is not in the language, or cannot be evaluated."""


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def parse(text: str) -> tuple:
    """``(tree, names)``: the checked syntax tree of ``text`` and the keys it reads."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("expected an expression such as \"4 * workload.batch_size\"")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExprError(f"syntax error in {text!r}: {e.msg}") from None
    names: list = []

    def check(node):
        if isinstance(node, ast.Expression):
            return check(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ExprError(f"only numbers are allowed, not {node.value!r}")
            return None
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = _dotted(node)
            if name is None:
                raise ExprError("only dotted config keys may be named")
            names.append(name)
            return None
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            check(node.left)
            return check(node.right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return check(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in _FUNCS and not node.keywords and node.args:
            for a in node.args:
                check(a)
            return None
        raise ExprError(f"{type(node).__name__} is not allowed; expressions have numbers, "
                        "config keys, + - * / // % **, and " + ", ".join(_FUNCS))

    check(tree)
    return tree, tuple(dict.fromkeys(names))


def evaluate(tree, values: dict):
    """The value of a tree from :func:`parse`, with ``values`` for the keys it names."""
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = _dotted(node)
            v = values.get(name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ExprError(f"{name} is {v!r}, not a number")
            return v
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and abs(b) > MAX_EXPONENT:
                raise ExprError(f"exponent {b} larger than {MAX_EXPONENT}")
            try:
                return _BINOPS[type(node.op)](a, b)
            except ZeroDivisionError:
                raise ExprError("division by zero") from None
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](ev(node.operand))
        if isinstance(node, ast.Call):
            try:
                return _FUNCS[node.func.id](*[ev(a) for a in node.args])
            except (TypeError, ValueError) as e:
                raise ExprError(f"{node.func.id}: {e}") from None
        raise ExprError(f"{type(node).__name__} is not allowed")  # parse() rejected it already

    out = ev(tree)
    if isinstance(out, float) and out.is_integer() and abs(out) < 2 ** 53:
        return int(out)
    return out
