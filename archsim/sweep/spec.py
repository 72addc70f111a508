"""Sweep specifications: a base design point and workload(s), and axes over any config key.

A sweep YAML file (``sweeps/*.yaml``)::

    name: batch_tradeoff
    hardware: [gpu_a100_80gb, gpu_h100_sxm]   # names, or .yaml paths relative to this file
    workload: llama2_7b                       # one or a list (a list is an axis)
    set: {workload.generate_tokens: 128}      # overrides of every point
    grid:                                     # every combination
      workload.batch_size: [1, 2, 4, 8]
    zip:                                      # equal-length lists advanced together
      hw.devices.pim.organization.channels: [4, 8, 16]
      workload.prompt_tokens: [64, 128, 256]
    sample:                                   # random or Latin-hypercube samples
      method: lhs                             # or random
      points: 16
      seed: 1
      axes:
        workload.batch_size: {min: 1, max: 64, log: true, integer: true}
        hw.devices.gpu0.memory_bandwidth: {min: "1 TB/s", max: "4 TB/s"}
        workload.precision.weights: {choices: [fp16, int8]}

A ``hardware`` item may also be a mapping ``{design: NAME, set: ..., grid: ..., zip: ...,
sample: ...}`` whose axes apply to that design point only (PIM channels swept on the PIM design
point, none on the GPU it is compared with). Points are the product of hardware (each with its
own axes) x workloads x grid x zip rows x samples. ``derive`` computes further keys from each
point's values with a small arithmetic language (:mod:`archsim.sweep.expr`; no ``eval``)::

    derive:
      workload.prompt_tokens: "4 * workload.batch_size" Keys are ``--set``
keys (:func:`archsim.api.split_overrides`): dotted paths into the design point (``devices``,
``links``, ``placement``, ``parallelism``, ``transforms``, ``cost``; prefix ``hw.`` to be
explicit) or the workload (``batch_size``, ``model``...; prefix ``workload.``). There is no
expression language: every value is written out, or sampled.

:func:`load_sweep` validates the whole sweep before any point runs: the file's structure, and
each axis value applied alone to the base configs, so a bad key, type or unit is reported at
the line of the value (``FILE:LINE: grid.workload.batch_size[3]: ...``).
"""
from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field

import yaml

from ..api import split_overrides
from ..config.presets import is_path, locate
from ..config.schema import Ctx
from ..errors import ArchsimError, ConfigError
from .axes import value_lists, sampled_rows
from .expr import ExprError, evaluate, parse

#: top-level keys of a sweep file
SWEEP_KEYS = ("name", "description", "hardware", "workload", "set", "grid", "zip", "sample",
              "derive")
HW_ITEM_KEYS = ("design", "set", "grid", "zip", "sample")


@dataclass(frozen=True)
class Point:
    """One design point of a sweep, before its configs are built.

    ``params`` maps each axis (``hardware``, ``workload`` and every swept key) to its value here;
    ``overrides`` are ``KEY=VALUE`` items in ``--set`` syntax.
    """

    hardware: str
    workload: str
    overrides: tuple
    params: dict = field(hash=False, compare=False)


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: its name, source file, axis names and every point, in order."""

    name: str
    file: str | None
    axes: tuple
    points: tuple
    description: str | None = None

    def __len__(self) -> int:
        return len(self.points)


def _scalar_text(value) -> str:
    """A value as ``--set`` text that YAML parses back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        try:
            same = yaml.safe_load(value) == value if value.strip() else False
        except yaml.YAMLError:
            same = False
        return value if same else json.dumps(value)  # a JSON string is a YAML string
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _resolve_source(name, ctx: Ctx, base_dir: str | None) -> str:
    """A hardware or workload reference: a shipped name stays a name; a relative path is made
    relative to the sweep file."""
    if not isinstance(name, str) or not name:
        raise ctx.error(f"expected a preset name or a .yaml path, got {name!r}")
    if is_path(name) and not os.path.isabs(name) and ctx.located.file and \
            ctx.located.file.startswith("<preset"):
        raise ctx.error(f"a shipped sweep names design points and workloads by name, not by a "
                        f"relative path ({name!r})")
    if is_path(name) and not os.path.isabs(name) and base_dir is not None:
        path = os.path.join(base_dir, name)
        if not os.path.isfile(path):
            raise ctx.error(f"file not found: {name!r} (looked for {path})")
        return path
    return name


def _names(data: dict, key: str, ctx: Ctx, base_dir) -> list:
    value = data.get(key)
    if value is None:
        raise ctx.error(f"missing required key {key!r} (a preset name, a .yaml path or a list)")
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ctx.child(key).error("empty list: expected at least one")
    c = ctx.child(key)
    out = []
    for i, v in enumerate(items):
        vctx = c.child(i) if isinstance(value, list) else c
        out.append(_resolve_source(v, vctx, base_dir))
        _check_overrides(None, out[-1], [], vctx)
    return out


def _is_hw_key(key: str, ctx: Ctx) -> bool:
    try:
        return bool(split_overrides([f"{key}=0"])[0])
    except ArchsimError:
        raise ctx.error(f"cannot tell whether {key!r} is a design-point or a workload key: "
                        f"write hw.{key} or workload.{key}") from None


class SweepErrors(ConfigError):
    """Every bad axis of a sweep (its first bad value): ``str()`` is one
    ``FILE:LINE: key: message`` line each (the command line prefixes each with
    ``archsim: error:``); the fields are the first's."""

    MAX_SHOWN = 20

    def __init__(self, errors: list):
        seen, unique = set(), []
        for e in errors:
            if str(e) not in seen:
                seen.add(str(e))
                unique.append(e)
        self.errors = unique
        first = unique[0]
        super().__init__(first.message, file=first.file, line=first.line, key=first.key)

    def __str__(self) -> str:
        errors = getattr(self, "errors", None)
        if not errors:
            return super().__str__()
        lines = [ConfigError.__str__(e) for e in errors[:self.MAX_SHOWN]]
        if len(errors) > self.MAX_SHOWN:
            lines.append(f"... and {len(errors) - self.MAX_SHOWN} more bad values")
        return "\narchsim: error: ".join(lines)


def _collect(errors: list, check, *args) -> bool:
    """Run ``check``; a :class:`ConfigError` goes to ``errors``. Whether it passed."""
    try:
        check(*args)
    except ConfigError as e:
        errors.append(e)
        return False
    return True


def _check_overrides(hw: str, wl: str, base: list, ctx: Ctx) -> None:
    from ..hardware import load_hardware
    from ..workload import load_workload
    try:
        hw_over, wl_over = split_overrides(base)
        if hw is not None:
            load_hardware(hw, hw_over)
        if wl is not None:
            load_workload(wl, wl_over)
    except ArchsimError as e:
        where = f" (in {e.file}:{e.line})" if e.file and e.file != ctx.located.file and \
            e.line else ""
        raise ctx.error(f"{e.key + ': ' if e.key else ''}{e.message}{where}") from None


def _check_value(hw: str, wl: str, base: list, key: str, value, ctx: Ctx) -> None:
    """Apply ``key=value`` alone to the base configs; a failure is reported at ``ctx``."""
    from ..hardware import load_hardware
    from ..workload import load_workload
    item = f"{key}={_scalar_text(value)}"
    try:
        hw_base, wl_base = split_overrides(base)
        hw_item, wl_item = split_overrides([item])
        if hw_item:
            load_hardware(hw, hw_base + hw_item)
        else:
            load_workload(wl, wl_base + wl_item)
    except ArchsimError as e:
        raise ctx.error(f"{key}={value!r}: {e.message}") from None


def _block(data: dict, ctx: Ctx, hws: list, wl: str, base: list, errors: list) -> tuple:
    """``(base, keys, rows)`` of a mapping's ``set``, ``grid``, ``zip`` and ``sample``: the
    fixed overrides after ``set``, the swept keys and one dict of values per combination.
    Every value is checked alone against each design point of ``hws``; the first bad value of
    each axis is appended to ``errors``, so that every bad axis of a sweep is reported at
    once."""
    fixed = data.get("set") or {}
    if not isinstance(fixed, dict):
        raise ctx.child("set").error("expected a mapping of config keys to values")
    together = base + [f"{k}={_scalar_text(v)}" for k, v in fixed.items()]
    for hw in hws:
        try:  # all together (prompt_tokens with generate_tokens ...)
            _check_overrides(hw, wl, together, ctx.child("set") if fixed else ctx)
        except ConfigError:
            for k, v in fixed.items():  # a value wrong on its own: at its own line
                _check_value(hw, wl, base, k, v, ctx.child("set").child(k))
            raise
    base = together
    grid = value_lists(data["grid"], ctx.child("grid")) if "grid" in data else {}
    zipped = value_lists(data["zip"], ctx.child("zip")) if "zip" in data else {}
    if zipped:
        lengths = {k: len(v) for k, v in zipped.items()}
        if len(set(lengths.values())) > 1:
            raise ctx.child("zip").error("zipped lists must have equal lengths, got "
                                         + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
    s_keys, s_rows, ranges = [], [{}], []
    if "sample" in data:
        s_keys, s_rows, ranges = sampled_rows(data["sample"], ctx.child("sample"))
    seen: dict = {}
    for where, keys in (("grid", grid), ("zip", zipped), ("sample", s_keys)):
        for k in keys:
            if k in seen:
                raise ctx.child(where).child(k).error(f"axis {k!r} is also swept in {seen[k]}")
            seen[k] = where
    # each value alone against the base configs: a bad key, type or unit, at its own line
    # (a workload key once, a design-point key on every design point)
    def against(key, kctx):
        return hws if _is_hw_key(key, kctx) else hws[:1]

    for where, axes in (("grid", grid), ("zip", zipped)):
        for k, values in axes.items():
            for hw in against(k, ctx.child(where).child(k)):
                for i, v in enumerate(values):  # an axis's first bad value
                    if not _collect(errors, _check_value, hw, wl, base, k, v,
                                    ctx.child(where).child(k).child(i)):
                        break
    actx = ctx.child("sample").child("axes")
    for r in ranges:
        for hw in against(r.key, actx.child(r.key)):
            for v in r.choices or (r.value(0.0), r.value(0.999999)):
                if not _collect(errors, _check_value, hw, wl, base, r.key, v,
                                actx.child(r.key)):
                    break
    zip_rows = [dict(zip(zipped, vals)) for vals in zip(*zipped.values())] if zipped else [{}]
    grid_rows = [dict(zip(grid, vals)) for vals in itertools.product(*grid.values())]
    rows = [{**g, **z, **r} for g, z, r in itertools.product(grid_rows, zip_rows, s_rows)]
    return base, [*grid, *zipped, *s_keys], rows


def _derive(data, ctx: Ctx, known: set) -> list:
    """``[(key, tree, unit, ctx)]`` of ``derive``: values computed from a point's other values
    with the expression language of :mod:`archsim.sweep.expr`, in order (a derived key may use
    the ones before it)."""
    if not isinstance(data, dict) or not data:
        raise ctx.error("expected a mapping of config keys to expressions")
    out = []
    known = set(known)
    for key, spec in data.items():
        c = ctx.child(key)
        if key in known:
            raise c.error(f"{key!r} is swept or set already; a derived key must be a new one")
        unit = ""
        if isinstance(spec, dict):
            bad = set(spec) - {"expr", "unit"}
            if bad or "expr" not in spec:
                raise c.error("expected an expression, or {expr: EXPRESSION, unit: UNIT}")
            unit, spec = str(spec.get("unit") or ""), spec["expr"]
        try:
            tree, names = parse(spec)
        except ExprError as e:
            raise c.error(str(e)) from None
        for n in names:
            if n not in known:
                raise c.error(f"unknown name {n!r}: an expression names axes, set keys and "
                              "derived keys before it; known: " + ", ".join(sorted(known)))
        out.append((key, tree, unit, c))
        known.add(key)
    return out


def _hardware_items(data: dict, ctx: Ctx, base_dir) -> list:
    """``[(source, item ctx, item mapping or None)]`` of ``hardware``: a name or path, or a
    mapping ``{design: NAME, set: ..., grid: ..., zip: ..., sample: ...}`` whose axes apply to
    that design point only."""
    value = data.get("hardware")
    if value is None:
        raise ctx.error("missing required key 'hardware' (a preset name, a .yaml path or a list)")
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ctx.child("hardware").error("empty list: expected at least one")
    out = []
    for i, item in enumerate(items):
        c = ctx.child("hardware").child(i) if isinstance(value, list) else ctx.child("hardware")
        if isinstance(item, dict):
            for k in item:
                if k not in HW_ITEM_KEYS:
                    raise c.child(k).error(f"unknown key {k!r}; expected one of: "
                                           + ", ".join(HW_ITEM_KEYS))
            if "design" not in item:
                raise c.error("missing required key 'design' (a preset name or a .yaml path)")
            out.append((_resolve_source(item["design"], c.child("design"), base_dir), c, item))
            _check_overrides(out[-1][0], None, [], c.child("design"))
        else:
            out.append((_resolve_source(item, c, base_dir), c, None))
            _check_overrides(out[-1][0], None, [], c)
    return out


def load_sweep(source) -> Sweep:
    """Load and validate a sweep (a YAML path, a shipped sweep name, or a ``dict``).

    Raises
    ------
    ConfigError
        naming the file, line and key of the first problem; nothing has run.
    """
    located = locate(source if isinstance(source, dict) else os.fspath(source), "sweeps",
                     what="sweep")
    data = located.data
    ctx = Ctx(located)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with hardware, workload and axes",
                          file=located.file, line=1)
    for k in data:
        if k not in SWEEP_KEYS:
            raise ctx.child(k).error(f"unknown key {k!r}; expected one of: "
                                     + ", ".join(SWEEP_KEYS))
    base_dir = None if not located.file or located.file.startswith("<") \
        else os.path.dirname(os.path.abspath(located.file))
    hw_items = _hardware_items(data, ctx, base_dir)
    wls = _names(data, "workload", ctx, base_dir)
    errors: list = []
    base, keys, rows = _block(data, ctx, [h for h, _, _ in hw_items], wls[0], [], errors)
    axes = ["hardware", "workload", *keys]
    known = set(keys) | set(data.get("set") or {})
    for _, _, item in hw_items:
        if item is not None:
            known |= set(item.get("set") or {}) | set(item.get("grid") or {}) | \
                set(item.get("zip") or {}) | set((item.get("sample") or {}).get("axes") or {})
    derived = _derive(data.get("derive"), ctx.child("derive"), known) if "derive" in data \
        else []
    points = []
    for hw, hctx, item in hw_items:
        hbase, hkeys, hrows = (base, [], [{}]) if item is None else \
            _block(item, hctx, [hw], wls[0], base, errors)
        for k in hkeys:
            if k in keys:
                raise hctx.child(k).error(f"axis {k!r} is also swept for every design point")
            if k not in axes:
                axes.append(k)
        if errors:
            continue
        fixed = {**(data.get("set") or {}), **((item or {}).get("set") or {})}
        for wl, g, h in itertools.product(wls, rows, hrows):
            vals = {**g, **h}
            for key, tree, unit, dctx in derived:
                try:
                    v = evaluate(tree, {**fixed, **vals})
                except ExprError as e:
                    shown = ", ".join(f"{k}={x!r}" for k, x in vals.items())
                    raise dctx.error(f"{e} (at the point {shown or _label(hw)})") from None
                vals[key] = f"{v:.6g} {unit}" if unit else v
            over = tuple(hbase + [f"{k}={_scalar_text(v)}" for k, v in vals.items()])
            if derived and not points:  # the first point with its derived values, checked
                _check_overrides(hw, wl, list(over), Ctx(located, ("derive",)))
            points.append(Point(hw, wl, over, {"hardware": _label(hw), "workload": _label(wl),
                                              **vals}))
    if errors:
        raise SweepErrors(errors)
    axes += [key for key, *_ in derived]
    name = data.get("name") or (os.path.splitext(os.path.basename(located.file))[0]
                                if located.file and not located.file.startswith("<") else "sweep")
    return Sweep(str(name), located.file, tuple(axes), tuple(points), data.get("description"))


def _label(source: str) -> str:
    """How a hardware or workload source is shown: its preset name or file stem."""
    base = os.path.basename(source)
    return base[:-5] if base.endswith(".yaml") else base[:-4] if base.endswith(".yml") else base
