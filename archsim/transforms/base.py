"""Trace transforms: functions ``Trace -> Trace`` applied between trace generation (or loading
a captured trace) and the mapping stage.

This is where a design point's parallelism (replicas, shards, the collectives they imply) and
decoding strategies (several tokens per step) turn the logical trace into the trace the engine
runs: ordinary ops, some pinned to devices (``Op.devices``), some depending on earlier steps
(``Op.prior``), steps that yield several tokens (``Step.tokens_out``). The engine, the devices
and captured-trace replay see nothing else.

A transform kind is a frozen config dataclass with a ``kind`` field, subclassing
:class:`Transform` and registered with :func:`register_transform`; a design point lists them
under ``transforms:`` (applied in order).
"""
from __future__ import annotations

from ..errors import ConfigError

_REGISTRY: dict = {}


class Transform:
    """Base of transform configs (frozen dataclasses whose ``kind`` field defaults to their
    kind's name): :meth:`apply` maps a trace to a trace, without side effects."""

    def check(self, hw) -> tuple | None:
        """``(key path, message)`` if this transform cannot apply to design point ``hw``."""
        return None

    def apply(self, trace, hw=None):
        """The transformed trace (``hw``: the design point, for transforms that place ops)."""
        raise NotImplementedError


def register_transform(cls):
    """Class decorator: make a :class:`Transform` config available under ``kind``."""
    f = getattr(cls, "__dataclass_fields__", {}).get("kind")
    kind = f.default if f is not None else None
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"{cls.__name__} has no kind")
    if kind in _REGISTRY and _REGISTRY[kind] is not cls:
        raise ValueError(f"transform kind {kind!r} registered twice")
    _REGISTRY[kind] = cls
    return cls


def transform_kinds() -> dict:
    """Registered transform kinds: name -> config class."""
    from . import data_parallel, parallel  # noqa: F401  (register themselves)
    return dict(_REGISTRY)


class TransformEntry:
    """Marker type for a transform in a design point: ``{kind: ..., ...}``; the ``kind`` selects
    the registered config class that validates the rest."""

    @classmethod
    def __archsim_build__(cls, value, ctx):
        from ..config.schema import build
        if not isinstance(value, dict):
            raise ctx.error(f"expected a mapping with a 'kind', got {value!r}")
        kind = value.get("kind")
        kinds = transform_kinds()
        if kind not in kinds:
            import difflib
            close = difflib.get_close_matches(str(kind), list(kinds), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ctx.child("kind").error(f"unknown transform kind {kind!r}{hint}; known: "
                                          + ", ".join(sorted(kinds)))
        return build(kinds[kind], value, ctx)


def apply_transforms(trace, transforms, hw=None):
    """``trace`` after each of ``transforms`` in order, on design point ``hw``."""
    from ..gcpause import paused
    with paused():
        for t in transforms:
            trace = t.apply(trace, hw)
    return trace


def check_transforms(hw) -> tuple | None:
    """The first problem of ``hw.transforms`` against ``hw``, as ``(key path, message)``."""
    if hw.parallelism is not None:
        bad = hw.parallelism.check(hw)
        if bad is not None:
            return (("parallelism",) + tuple(bad[0]), bad[1])
    for i, t in enumerate(hw.transforms):
        bad = t.check(hw)
        if bad is not None:
            return (("transforms", i) + tuple(bad[0]), bad[1])
    return None


def pinned_error(op, what: str) -> ConfigError:
    return ConfigError(f"{what}: op {op.name!r} is already pinned to "
                       f"{', '.join(op.devices)} by an earlier transform")
