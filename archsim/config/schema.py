"""Declarative config schemas: frozen dataclasses validated from located YAML data.

A schema is a ``@dataclass(frozen=True)`` whose fields carry metadata made by :func:`quantity` or
:func:`param`. :func:`build` turns located YAML data into an instance, checking every key:
unknown keys (with the closest match suggested), missing keys, wrong types, missing or wrong
units and out-of-range values all raise :class:`~archsim.errors.ConfigError` with file, line and
key path.

Quantity fields carry their unit in the attribute name (``memory_bandwidth_bytes_per_s``) and
are written in YAML without the suffix and with a unit (``memory_bandwidth: "3.35 TB/s"``).
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, Union

from ..errors import ConfigError
from ..units import DIMENSIONS, parse_quantity
from .yamlio import Located, dotted


class FrozenDict(dict):
    """A read-only, hashable, picklable ``dict`` for config mappings."""

    def _ro(self, *a, **k):
        raise TypeError("config mappings are frozen")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _ro  # type: ignore

    def __hash__(self):  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def __reduce__(self):
        return (FrozenDict, (dict(self),))


def quantity(dimension: str, *, default=dataclasses.MISSING, min=None, max=None,
             min_exclusive=False, doc: str = "", key: str | None = None) -> Any:
    """A field holding a quantity with a unit (stored in the dimension's canonical unit)."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension}")
    md = {"dimension": dimension, "min": min, "max": max, "min_exclusive": min_exclusive,
          "doc": doc, "key": key}
    return dataclasses.field(default=default, metadata=md)


def param(*, default=dataclasses.MISSING, default_factory=dataclasses.MISSING, min=None, max=None,
          min_exclusive=False, doc: str = "", key: str | None = None) -> Any:
    """A plain field (number, string, bool, nested schema, tuple or mapping of them)."""
    md = {"min": min, "max": max, "min_exclusive": min_exclusive, "doc": doc, "key": key}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=md)


def yaml_key(f: dataclasses.Field) -> str:
    """The YAML key of a schema field (the attribute name without its unit suffix)."""
    if f.metadata.get("key"):
        return f.metadata["key"]
    dim = f.metadata.get("dimension")
    if dim:
        suffix = DIMENSIONS[dim].suffix
        if f.name.endswith(suffix):
            return f.name[: -len(suffix)]
    return f.name


class Ctx:
    """Where a value came from, for error messages."""

    def __init__(self, located: Located, path: tuple = ()):
        self.located, self.path = located, path

    def child(self, key) -> "Ctx":
        return Ctx(self.located, self.path + (key,))

    def error(self, message: str) -> ConfigError:
        file, line = self.located.where(self.path)
        return ConfigError(message, file=file, line=line, key=dotted(self.path) or None)


def _describe(tp) -> str:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (tuple, list):
        return "a list"
    if origin in (dict, typing.Mapping) or tp is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def _check_range(value, md, ctx: Ctx, shown):
    lo, hi = md.get("min"), md.get("max")
    if lo is not None and (value < lo or (md.get("min_exclusive") and value == lo)):
        op = ">" if md.get("min_exclusive") else ">="
        raise ctx.error(f"value {shown} out of range: expected {op} {lo}")
    if hi is not None and value > hi:
        raise ctx.error(f"value {shown} out of range: expected <= {hi}")


def build_value(tp, value, ctx: Ctx, md=None):
    """Validate ``value`` against type ``tp`` (see module docstring)."""
    md = md or {}
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        if len(args) == 1:
            return build_value(args[0], value, ctx, md)
        errors = []
        for a in args:
            try:
                return build_value(a, value, ctx, md)
            except ConfigError as e:
                errors.append(e)
        raise errors[0]
    if md.get("dimension"):
        try:
            v = parse_quantity(value, md["dimension"])
        except ConfigError as e:
            raise ctx.error(e.message) from None
        _check_range(v, md, ctx, repr(value))
        return v
    hook = getattr(tp, "__archsim_build__", None)
    if hook is not None:
        return hook(value, ctx)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, ctx)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ctx.error(f"invalid value {value!r}{hint}: expected one of "
                            + ", ".join(repr(c) for c in choices))
        return value
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ctx.error(f"expected a list, got {_type_name(value)}")
        (item_tp, *_rest) = typing.get_args(tp) or (Any,)
        return tuple(build_value(item_tp, v, ctx.child(i)) for i, v in enumerate(value))
    if origin in (dict, typing.Mapping) or tp is dict:
        if not isinstance(value, dict):
            raise ctx.error(f"expected a mapping, got {_type_name(value)}")
        args = typing.get_args(tp)
        vt = args[1] if len(args) == 2 else Any
        return FrozenDict({str(k): build_value(vt, v, ctx.child(k)) for k, v in value.items()})
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ctx.error(f"expected true or false, got {_type_name(value)} {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(f"expected an integer, got {_type_name(value)} {value!r}")
        _check_range(value, md, ctx, repr(value))
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ctx.error(f"expected a number, got {_type_name(value)} {value!r}")
        _check_range(float(value), md, ctx, repr(value))
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ctx.error(f"expected a string, got {_type_name(value)} {value!r}")
        return value
    raise TypeError(f"unsupported schema type {tp!r}")


def _type_name(value) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


def schema_fields(cls) -> dict:
    """Map YAML key -> (field, resolved type) for a schema dataclass."""
    cache = cls.__dict__.get("_archsim_fields")
    if cache is None:
        hints = typing.get_type_hints(cls)
        cache = {yaml_key(f): (f, hints[f.name]) for f in dataclasses.fields(cls)
                 if f.init and not f.name.startswith("_")}
        setattr(cls, "_archsim_fields", cache)
    return cache


def build(cls, value, ctx: Ctx):
    """Build schema dataclass ``cls`` from a YAML mapping, validating every key."""
    if not isinstance(value, dict):
        raise ctx.error(f"expected a mapping, got {_type_name(value)}")
    category = getattr(cls, "_preset_category", None)
    if category and "extends" in value:
        from .presets import resolve_extends
        value = resolve_extends(value, ctx, category)
    fields = schema_fields(cls)
    for k in value:
        if k not in fields:
            close = difflib.get_close_matches(str(k), list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else \
                f"; expected one of: {', '.join(sorted(fields))}"
            raise ctx.child(k).error(f"unknown key {k!r}{hint}")
    kwargs = {}
    for key, (f, tp) in fields.items():
        if key in value:
            kwargs[f.name] = build_value(tp, value[key], ctx.child(key), f.metadata)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            dim = f.metadata.get("dimension")
            what = f"a {dim.replace('_', ' ')} with a unit" if dim else _describe(tp)
            raise ctx.error(f"missing required key {key!r} ({what})")
    try:
        obj = cls(**kwargs)
    except (ValueError, ConfigError) as exc:
        msg = exc.message if isinstance(exc, ConfigError) else str(exc)
        raise ctx.error(msg) from None
    check = getattr(obj, "validate", None)
    if check is not None:
        problem = check()
        if problem:
            path, msg = problem if isinstance(problem, tuple) else ((), problem)
            if isinstance(path, list):  # several keys involved: blame one the user wrote
                path = _written_here(ctx, path)
            c = ctx
            for p in path:
                c = c.child(p)
            raise c.error(msg)
    return obj


def _written_here(ctx: Ctx, paths: list) -> tuple:
    """The first of ``paths`` (relative to ``ctx``) located in the document being read rather
    than in a preset it extends; else the first."""
    own = ctx.located.file
    for p in paths:
        if ctx.located.locs.get(ctx.path + tuple(p), (None,))[0] == own:
            return tuple(p)
    return tuple(paths[0])


def from_located(cls, located: Located):
    """Build ``cls`` from a whole :class:`Located` document."""
    return build(cls, located.data, Ctx(located))
