"""Fit roofline parameters of GPU-like devices to measured traces (``archsim calibrate``).

Model: an op's kernel time is ``max(floor, t_mem / be, t_cmp / ce)`` (:meth:`Gpu.roofline_terms`
gives the terms at the peaks, shape-aware on a GPU with a kernel model; the floors are the
device's, kept as they are) and a step's wall time is the sum of its ops' kernel times plus
``launch_overhead`` per op.

1. **Efficiencies** (global, then per op kind): least squares on the log of the op kernel time,
   ``sum (log sim - log measured)^2``, minimised by a coarse-to-fine grid search over
   ``be, ce`` in ``[1e-4, 1]`` (log-spaced): two parameters per fit, a loss that is flat where
   a parameter does not bind (a gradient method would wander there), and no scipy needed.
   A parameter is *identified* only if at least one op is bound by it at the optimum; a
   per-kind value that is not identified is left to the global one (unless that changes the
   kind's predictions, in which case the fitted, bound-preserving value is kept).
2. **Launch overhead** (global): least squares of the step residual ``measured step -
   sum of simulated kernel times`` against the number of ops per step, clipped at 0. Per-kind
   launch overheads are not fitted: every step launches the same mix of kernels, so step times
   cannot tell them apart.

Traces are split into train and test groups (by trace, model or shape) and the errors of the
calibrated model are reported on both.

A fit is **refused** (:class:`CalibrationRefused`, nothing written, an existing output file kept)
when it is worse than its starting point on the training traces or on the held-out ones (RMS log
error of op or step times), or when an
identified parameter ends at a bound of its search range (an efficiency at ``1e-4`` or 1, a
launch overhead clipped at 0): the model then cannot represent the data, and a file of such
numbers would only look calibrated.
"""
from __future__ import annotations

import os
from collections import defaultdict

import numpy as np
import yaml

from ..devices.gpu import Gpu
from ..engine.system import System
from ..fsutil import atomic_path
from ..errors import ArchsimError
from ..hardware import load_hardware
from ..mapping import Mapper
from .fit import GRID_MIN, fit_device, fit_efficiencies, fit_floor  # noqa: F401  (public here too)
from .measured import _load, model_name, validate

class CalibrationRefused(ArchsimError):
    """The fit is worse than its start or has a parameter at a bound; nothing was written."""


def _groups(loaded, split_by):
    keys = []
    for path, t in loaded:
        wl = t.workload if isinstance(t.workload, dict) else {}
        if split_by == "model":
            keys.append(model_name(t))
        elif split_by == "shape":
            keys.append(f"batch {wl.get('batch_size')}, prompt {wl.get('prompt_tokens')}, "
                        f"generate {wl.get('generate_tokens')}")
        else:
            keys.append(path if path != "<trace>" else f"trace {len(keys)}")
    return keys


def split(loaded, test_fraction=0.25, split_by=None, seed=0):
    """Indices of train and test traces: whole groups (trace, model or shape) are held out."""
    if not 0 <= test_fraction < 1:
        raise ArchsimError(f"--test-fraction {test_fraction}: expected a number in [0, 1)")
    keys = _groups(loaded, split_by)
    uniq = sorted(set(keys))
    if split_by and len(uniq) < 2:
        raise ArchsimError(f"--split-by {split_by}: all traces have the same {split_by} "
                           f"({uniq[0]}); a held-out set needs at least two")
    n_test = int(round(test_fraction * len(uniq)))
    if test_fraction > 0 and len(uniq) >= 2:
        n_test = min(max(n_test, 1), len(uniq) - 1)
    else:
        n_test = 0
    rng = np.random.default_rng(seed)
    test_keys = set(rng.permutation(uniq)[:n_test].tolist()) if n_test else set()
    train = [i for i, k in enumerate(keys) if k not in test_keys]
    test = [i for i, k in enumerate(keys) if k in test_keys]
    return train, test, sorted(test_keys)


def _samples(hw, loaded):
    """Per device: op samples (kind, t_mem, t_cmp, measured s) and step samples."""
    system = System(hw)
    mapper = Mapper(hw.placement, hw.devices)
    ops = defaultdict(list)
    steps = defaultdict(list)
    for _, t in loaded:
        for step in t.steps:
            per_dev = defaultdict(list)
            for op in step.ops:
                dev_name = mapper.assign(op)
                dev = system.devices[dev_name]
                if not isinstance(dev, Gpu):
                    continue
                tm, tc = dev.roofline_terms(op)
                fl = dev.config.roofline.floor_for(op.kind.value)
                per_dev[dev_name].append((op.kind, tm, tc, fl))
                if op.measured_ns and op.measured_ns > 0:
                    ops[dev_name].append((op.kind, tm, tc, op.measured_ns * 1e-9, fl))
            if step.measured_ns and len(per_dev) == 1:  # launch overhead: single-device steps
                (dev_name, lst), = per_dev.items()
                steps[dev_name].append((lst, step.measured_ns * 1e-9))
    return system, ops, steps


#: a fitted kernel floor is kept only when it lowers its kind's loss by at least this fraction
def _roofline_yaml(dev: Gpu, fit: dict, source: str) -> dict:
    old = dev.config.roofline
    lo = fit["launch_overhead_s"]
    lo = old.launch_overhead_s if lo is None else lo
    r = {"bandwidth_efficiency": _sig(fit["global"]["be"]),
         "compute_efficiency": _sig(fit["global"]["ce"]),
         "launch_overhead": f"{_sig(lo * 1e9)} ns", "source": source}
    if old.floor_s or old.floor_source:   # the floors are the device's, not fitted: kept
        r["floor"] = f"{_sig(old.floor_s * 1e9)} ns"
        if old.floor_source:
            r["floor_source"] = old.floor_source
    per = {}
    for k in sorted(set(fit["per_kind"]) | set(old.per_kind)):
        e = fit["per_kind"].get(k)
        d = {}
        if e is not None:
            if e["be"] is not None:
                d["bandwidth_efficiency"] = _sig(e["be"])
            if e["ce"] is not None:
                d["compute_efficiency"] = _sig(e["ce"])
            o = old.per_kind.get(k)
            if e.get("floor") is not None:
                d["floor"] = f"{_sig(e['floor'] * 1e9)} ns"
            elif o is not None and o.floor_s is not None:
                d["floor"] = f"{_sig(o.floor_s * 1e9)} ns"
        else:  # kind without measurements: keep what the device had
            o = old.per_kind[k]
            if o.bandwidth_efficiency:
                d["bandwidth_efficiency"] = o.bandwidth_efficiency
            if o.compute_efficiency:
                d["compute_efficiency"] = o.compute_efficiency
            if o.launch_overhead_s is not None:
                d["launch_overhead"] = f"{_sig(o.launch_overhead_s * 1e9)} ns"
            if o.floor_s is not None:
                d["floor"] = f"{_sig(o.floor_s * 1e9)} ns"
        if d:
            per[k] = d
    if per:
        r["per_kind"] = per
    if any(e.get("floor") is not None for e in fit["per_kind"].values()):
        r["floor_source"] = ("per-kind floors fitted by archsim calibrate (see source)"
                             + (f"; others: {old.floor_source}" if old.floor_source else ""))
    return r


def _write(path, raw, header):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(header + yaml.safe_dump(raw, sort_keys=False, width=100))


def _sig(x, digits=5):
    return float(f"{x:.{digits}g}")


def _fmt(v):
    return "n/a" if v is None else f"{v:.1f}%"


#: relative margin within which a fitted efficiency counts as sitting at a bound of its grid
_AT_BOUND = 1e-3


def _at_bounds(fits) -> list:
    """``device.parameter`` names of identified parameters that ended at a search bound."""
    out = []
    for dev, f in fits.items():
        def check(where, fit, be, ce):
            for p, v, ident in (("bandwidth_efficiency", be, fit["be_identified"]),
                                ("compute_efficiency", ce, fit["ce_identified"])):
                if ident and v is not None and (v >= 1 - _AT_BOUND
                                                or v <= GRID_MIN * (1 + _AT_BOUND)):
                    out.append(f"{dev}.{where}{p} = {v:.4g}")
        check("", f["global"], f["global"]["be"], f["global"]["ce"])
        for k, e in f["per_kind"].items():
            check(f"per_kind.{k}.", e["fit"], e["be"], e["ce"])
        for k, e in f["per_kind"].items():
            if e.get("floor_at_bound"):
                out.append(f"{dev}.per_kind.{k}.floor = {e['floor'] * 1e6:.4g} us, the longest "
                           "measured time (every op held at the floor)")
        if f.get("launch_overhead_clipped"):
            out.append(f"{dev}.launch_overhead clipped at 0 (the kernels alone exceed the "
                       "measured step times)")
    return out


def _refuse_if_bad(fits, before: dict, after: dict, out_path, part: str = "training") -> None:
    """Raise :class:`CalibrationRefused` when the fit is worse than its start on the ``part``
    traces or has a parameter at a bound (the output file is then left as it was).

    "Worse" is judged by the RMS log error of op and of step times, the fit's own objective and
    symmetric in over- and under-prediction; MAPE is reported but not used, as it rewards a
    model that is too fast (an op predicted at 0 s scores 100%, one predicted 3x slow 200%).
    """
    worse = [f"{m.split('_')[0]} RMS log error {before[m]:.3f} -> {after[m]:.3f}"
             for m in ("op_rms_log_error", "step_rms_log_error")
             if before.get(m) is not None and after.get(m) is not None
             and after[m] > before[m] * (1 + 1e-9) + 1e-12]
    bounds = _at_bounds(fits)
    if worse or bounds:
        why = []
        if worse:
            why.append(f"worse than the starting point on the {part} traces (" +
                       "; ".join(worse) + ")")
        if bounds:
            why.append("parameters at a bound of their range: " + "; ".join(bounds))
        raise CalibrationRefused("calibration refused, " + " and ".join(why) + f"; {out_path} "
                                 "not written (an existing file is kept)")


class _Stages:
    """The stages of :func:`calibrate` on a :func:`archsim.progress.progress_bar` (or none)."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar = enabled, None

    def start(self, total: int) -> None:
        if self.enabled:
            from ..progress import progress_bar
            self.bar = progress_bar(total, "stage", "calibrate")

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def done(self, value):
        self.update()
        return value

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def calibrate(hw_path, traces, out_path, *, test_fraction=0.25, split_by=None, seed=0,
              fit_floors: bool = True, progress: bool = False) -> dict:
    """Fit ``hw_path``'s roofline devices to ``traces``; write ``out_path`` (hardware YAML).

    Returns a report with the fitted parameters, the split, and train/test errors of the
    original and the calibrated model. The YAML extends each device's original entry (preset)
    and overrides its ``roofline``; it is loaded back with :func:`load_hardware` before being
    moved into place atomically. ``progress`` reports its stages on stderr
    (:mod:`archsim.progress`): the training samples, each device's fit and each of the
    validations before and after.
    """
    hw_path = os.fspath(hw_path)
    out_path = os.fspath(out_path)
    if not out_path.endswith((".yaml", ".yml")):
        raise ArchsimError(f"output {out_path!r} must end in .yaml")
    hw = load_hardware(hw_path)
    loaded = _load(traces)
    if not loaded:
        raise ArchsimError("no traces to calibrate from")
    train, test, test_groups = split(loaded, test_fraction, split_by, seed)
    tr = [loaded[i] for i in train]
    bar = _Stages(progress)
    system, ops, steps = _samples(hw, tr)
    if not ops:
        raise ArchsimError("the training traces have no measured op times on a roofline (gpu/cpu)"
                           " device")
    bar.start(1 + len(ops) + (4 if test else 2))     # samples, fits, validations
    bar.update()
    fits = {}
    for name in sorted(ops):
        fits[name] = fit_device(system.devices[name], ops[name], steps.get(name, []),
                                fit_floors=fit_floors)
        bar.update()
    with open(hw_path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    base_dir = os.path.dirname(os.path.abspath(hw_path))
    out_dir = os.path.dirname(os.path.abspath(out_path))
    if not isinstance(raw, dict) or not isinstance(raw.get("devices"), dict) or \
            not set(fits) <= set(raw["devices"]):
        raise ArchsimError("calibrate rewrites the devices of the hardware file itself; this file "
                           "does not list them under 'devices' (does it 'extends' another?)",
                           file=hw_path, key="devices")
    for name, fit in fits.items():
        entry = raw["devices"][name]
        if isinstance(entry, str):
            entry = {"extends": entry}
        ext = entry.get("extends")
        if isinstance(ext, str) and (ext.endswith((".yaml", ".yml")) or "/" in ext):
            entry["extends"] = os.path.relpath(os.path.join(base_dir, ext), out_dir)
        entry["roofline"] = _roofline_yaml(system.devices[name], fit, "pending")
        raw["devices"][name] = entry
    raw["name"] = f"{hw.name}_calibrated"
    raw["description"] = f"{hw.description or hw.name}; roofline calibrated (see source)"
    with atomic_path(out_path, ".yaml") as tmp:
        _write(tmp, raw, "")
        new_hw = load_hardware(tmp)  # the file must load as it is (relative extends included)
        before = {"train": bar.done(validate(hw, tr)),
                  "test": bar.done(validate(hw, [loaded[i] for i in test])) if test else None}
        after = {"train": bar.done(validate(new_hw, tr)),
                 "test": bar.done(validate(new_hw, [loaded[i] for i in test])) if test
                 else None}
        bar.close()
        models = sorted({model_name(t) for _, t in tr})
        held = (f"held-out op MAPE {_fmt(after['test']['op_mape'])}, step MAPE "
                f"{_fmt(after['test']['step_mape'])} on {len(test)} trace(s) "
                f"({'; '.join(test_groups)})" if test
                else "no held-out traces (test error not measured)")
        source = (f"archsim calibrate on {len(tr)} measured trace(s) of {', '.join(models)} "
                  f"({sum(len(v) for v in ops.values())} ops); train op MAPE "
                  f"{_fmt(after['train']['op_mape'])}, step MAPE "
                  f"{_fmt(after['train']['step_mape'])}; " + held)
        _refuse_if_bad(fits, before["train"], after["train"], out_path)
        if test:
            _refuse_if_bad({}, before["test"], after["test"], out_path, "held-out")
        for name in fits:
            raw["devices"][name]["roofline"]["source"] = source
        _write(tmp, raw, f"# Calibrated from {hw_path} by archsim calibrate.\n")
        load_hardware(tmp)

    def errs(r):
        return None if r is None else {k: r[k] for k in (
            "op_mape", "step_mape", "op_rms_log_error", "step_rms_log_error", "op_count",
            "step_count")}

    return {"output": out_path, "source": source,
            "split": {"by": split_by or "trace", "test_fraction": test_fraction,
                      "train": [loaded[i][0] for i in train], "test": [loaded[i][0] for i in test]},
            "devices": {n: {"bandwidth_efficiency": f["global"]["be"],
                            "compute_efficiency": f["global"]["ce"],
                            "launch_overhead_s": f["launch_overhead_s"],
                            "per_kind": {k: {"count": e["count"], "bandwidth_efficiency": e["be"],
                                             "compute_efficiency": e["ce"],
                                             "floor_s": e["floor"]}
                                         for k, e in f["per_kind"].items()}}
                        for n, f in fits.items()},
            "before": {k: errs(v) for k, v in before.items()},
            "after": {k: errs(v) for k, v in after.items()}}
