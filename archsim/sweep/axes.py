"""Sweep axes: value lists (``grid``, ``zip``) and sampled ranges (``sample``: uniform random or
Latin hypercube, with a seed), validated with file, line and key."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..config.schema import Ctx

SAMPLE_KEYS = ("method", "points", "seed", "axes")
RANGE_KEYS = ("min", "max", "log", "integer", "choices")
_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def _axis_mapping(data, ctx: Ctx, what: str) -> dict:
    if not isinstance(data, dict) or not data:
        raise ctx.error(f"expected a non-empty mapping of {what}")
    for k, v in data.items():
        if not isinstance(k, str) or not k.strip() or any(not p for p in k.split(".")):
            raise ctx.child(k).error("expected a dotted config key such as "
                                     "workload.batch_size or hw.devices.gpu0.memory_bandwidth")
    return data


def value_lists(data, ctx: Ctx) -> dict:
    out = {}
    for k, v in _axis_mapping(data, ctx, "keys to value lists").items():
        if not isinstance(v, list):
            raise ctx.child(k).error(f"expected a list of values, got {v!r}")
        if not v:
            raise ctx.child(k).error("empty axis: expected at least one value")
        for i, x in enumerate(v):
            if isinstance(x, (dict, list)) or x is None:
                raise ctx.child(k).child(i).error(f"expected a number, string or boolean, "
                                                  f"got {x!r}")
        out[k] = v
    return out


def _split_number(value, ctx: Ctx) -> tuple:
    if isinstance(value, bool):
        raise ctx.error(f"expected a number or a quantity with a unit, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value), ""
    m = _NUMBER_UNIT.match(str(value))
    if not m:
        raise ctx.error(f"expected a number or a quantity such as \"1 TB/s\", got {value!r}")
    return float(m.group(1)), m.group(2)


@dataclass(frozen=True)
class _Range:
    key: str
    lo: float = 0.0
    hi: float = 0.0
    unit: str = ""
    log: bool = False
    integer: bool = False
    choices: tuple = ()

    def value(self, u: float):
        """The value at quantile ``u`` in [0, 1)."""
        if self.choices:
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        if self.log:
            x = math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))
        else:
            x = self.lo + u * (self.hi - self.lo)
        if self.integer:
            x = int(min(max(round(x), math.ceil(self.lo)), math.floor(self.hi)))
            return f"{x} {self.unit}" if self.unit else x
        return f"{x:.6g} {self.unit}" if self.unit else float(f"{x:.6g}")


def _range(key: str, spec, ctx: Ctx) -> _Range:
    if not isinstance(spec, dict):
        raise ctx.error("expected {min: ..., max: ...[, log: true, integer: true]} or "
                        "{choices: [...]}")
    for k in spec:
        if k not in RANGE_KEYS:
            raise ctx.child(k).error(f"unknown key {k!r}; expected one of: "
                                     + ", ".join(RANGE_KEYS))
    if "choices" in spec:
        extra = set(spec) - {"choices"}
        if extra:
            raise ctx.child(sorted(extra)[0]).error("choices cannot be combined with a range")
        choices = spec["choices"]
        cctx = ctx.child("choices")
        if not isinstance(choices, list) or not choices:
            raise cctx.error("expected a non-empty list of values")
        for i, x in enumerate(choices):
            if isinstance(x, (dict, list)) or x is None:
                raise cctx.child(i).error(f"expected a number, string or boolean, got {x!r}")
        return _Range(key, choices=tuple(choices))
    for k in ("min", "max"):
        if k not in spec:
            raise ctx.error(f"missing required key {k!r}")
    lo, ulo = _split_number(spec["min"], ctx.child("min"))
    hi, uhi = _split_number(spec["max"], ctx.child("max"))
    if ulo != uhi:
        raise ctx.child("max").error(f"unit {uhi!r} differs from min's {ulo!r}: give both "
                                     "ends in the same unit")
    if not hi > lo:
        raise ctx.child("max").error(f"max {spec['max']!r} must exceed min {spec['min']!r}")
    flags = {}
    for k in ("log", "integer"):
        v = spec.get(k, False)
        if not isinstance(v, bool):
            raise ctx.child(k).error(f"expected true or false, got {v!r}")
        flags[k] = v
    if flags["log"] and lo <= 0:
        raise ctx.child("min").error("a log-scale range needs min > 0")
    return _Range(key, lo, hi, ulo, **flags)


def sample_unit_cube(method: str, n: int, dims: int, seed: int) -> np.ndarray:
    """``n`` points in ``[0, 1)^dims``: independent uniform (``random``) or a Latin hypercube
    (``lhs``: each dimension's ``n`` equal strata hit exactly once; McKay, Beckman and Conover,
    Technometrics 21(2), 1979)."""
    rng = np.random.default_rng(seed)
    if method == "random":
        return rng.random((n, dims))
    u = np.empty((n, dims))
    for d in range(dims):
        u[:, d] = (rng.permutation(n) + rng.random(n)) / n
    return u


def sampled_rows(data, ctx: Ctx) -> tuple:
    if not isinstance(data, dict):
        raise ctx.error("expected a mapping with method, points, seed and axes")
    for k in data:
        if k not in SAMPLE_KEYS:
            raise ctx.child(k).error(f"unknown key {k!r}; expected one of: "
                                     + ", ".join(SAMPLE_KEYS))
    method = data.get("method", "lhs")
    if method not in ("lhs", "random"):
        raise ctx.child("method").error(f"invalid value {method!r}: expected 'lhs' or 'random'")
    for k in ("points", "seed"):
        v = data.get(k)
        if isinstance(v, bool) or not isinstance(v, int) or v < (1 if k == "points" else 0):
            raise ctx.child(k).error(f"expected {'a positive' if k == 'points' else 'a'} "
                                     f"integer{'' if k == 'points' else ' >= 0'}, got {v!r}"
                                     if k in data else f"missing required key {k!r}")
    axes = _axis_mapping(data.get("axes"), ctx.child("axes"), "keys to ranges")
    ranges = [_range(k, v, ctx.child("axes").child(k)) for k, v in axes.items()]
    u = sample_unit_cube(method, data["points"], len(ranges), data["seed"])
    rows = [{r.key: r.value(u[i, j]) for j, r in enumerate(ranges)} for i in range(len(u))]
    return [r.key for r in ranges], rows, ranges
