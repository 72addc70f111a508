"""Simulated against measured op and step times (``archsim validate``).

See the package docstring for what is compared. Ops without a measured time, or with a measured
time of zero (an op region that launched no kernel), are skipped and counted.
"""
from __future__ import annotations

import os
from collections import defaultdict

from ..devices.gpu import Gpu
from ..engine.simulator import Simulator
from ..errors import ArchsimError
from ..hardware import HardwareConfig, load_hardware
from ..trace.io import load_trace
from ..trace.schema import Op, Trace
from .metrics import error_stats


def kernel_time_s(dev, op: Op) -> float:
    """Simulated kernel time of ``op``: the op cost less the roofline's launch overhead.

    Devices without a roofline (PIM, FPGA ...) have no separate launch term: their op cost is
    compared as it is.
    """
    if isinstance(dev, Gpu):
        return dev.kernel_time_s(op)
    return dev.op_cost(op).duration_ps * 1e-12


def model_name(trace: Trace) -> str:
    m = trace.workload.get("model") if isinstance(trace.workload, dict) else None
    if isinstance(m, dict):
        return str(m.get("name", "?"))
    return str(m or "?")


def _load(traces):
    out = []
    for t in traces:
        if isinstance(t, Trace):
            out.append(("<trace>", t))
        elif isinstance(t, tuple) and len(t) == 2 and isinstance(t[1], Trace):
            out.append(t)  # already (path, trace)
        else:
            out.append((os.fspath(t), load_trace(t)))
    return out


def compare(hw: HardwareConfig, traces, progress=None) -> dict:
    """Per-op and per-step simulated/measured pairs of ``traces`` on ``hw`` (raw arrays);
    ``progress`` (an object with ``update(n)``) is told of each step compared."""
    sim = Simulator(hw)
    rows_op, rows_step = [], []
    skipped = defaultdict(int)
    for ti, (path, t) in enumerate(traces):
        model = model_name(t)
        measured_any = False
        step_ps = None
        if any(s.measured_ns for s in t.steps):
            step_ps = sim.run(t).step_ps
        for si, step in enumerate(t.steps):
            for op in step.ops:
                if op.measured_ns is None:
                    skipped["ops_unmeasured"] += 1
                    continue
                if op.measured_ns <= 0:
                    skipped["ops_zero_time"] += 1
                    continue
                measured_any = True
                dev_name = sim.mapper.assign(op)
                dev = sim.system.devices[dev_name]
                rows_op.append((ti, model, si, step.phase.value, op.kind.value, op.name,
                                kernel_time_s(dev, op) * 1e9, op.measured_ns))
            if step.measured_ns:
                measured_any = True
                rows_step.append((ti, model, si, step.phase.value,
                                  float(step_ps[si]) / 1e3, step.measured_ns))
            else:
                skipped["steps_unmeasured"] += 1
            if progress is not None:
                progress.update(1)
        if not measured_any:
            raise ArchsimError(f"the trace has no measured times (source {t.source!r}); capture "
                               "one with `archsim capture` or `archsim import-kineto`", file=path)
    return {"ops": rows_op, "steps": rows_step, "skipped": dict(skipped)}


def summarize(hw: HardwareConfig, traces, pairs) -> dict:
    ops, steps = pairs["ops"], pairs["steps"]

    def stats(rows, sim_i, meas_i, pred=lambda r: True):
        sel = [r for r in rows if pred(r)]
        return error_stats([r[sim_i] for r in sel], [r[meas_i] for r in sel])

    o = stats(ops, 6, 7)
    s = stats(steps, 4, 5)
    rep = {"hardware": hw.name,
           "compared": {
               "op": "simulated kernel time (roofline op cost without launch_overhead) vs "
                     "measured op time (summed kernel time on GPU, op-region wall time on CPU)",
               "step": "simulated step time (all ops incl. launch_overhead) vs measured step "
                       "wall time"},
           "units": "mape, max_error and bias in percent; times in ns",
           "traces": [{"file": p, "model": model_name(t), "source": t.source,
                       "steps": len(t.steps), "device": t.meta.get("device", {}).get("name")}
                      for p, t in traces],
           "op_mape": o["mape"], "op_max_error": o["max_error"], "op_bias": o["bias"],
           "op_pearson": o["pearson"], "op_count": o["count"],
           "op_rms_log_error": o["rms_log_error"], "step_rms_log_error": s["rms_log_error"],
           "step_mape": s["mape"], "step_max_error": s["max_error"], "step_bias": s["bias"],
           "step_pearson": s["pearson"], "step_count": s["count"],
           "ops": o, "steps": s}
    rep["per_kind"] = {k: stats(ops, 6, 7, lambda r, k=k: r[4] == k)
                       for k in sorted({r[4] for r in ops})}
    rep["per_phase"] = {ph: {"op": stats(ops, 6, 7, lambda r, ph=ph: r[3] == ph),
                             "step": stats(steps, 4, 5, lambda r, ph=ph: r[3] == ph)}
                        for ph in ("prefill", "decode")}
    rep["per_model"] = {}
    for m in sorted({r[1] for r in ops} | {r[1] for r in steps}):
        mo = stats(ops, 6, 7, lambda r, m=m: r[1] == m)
        ms = stats(steps, 4, 5, lambda r, m=m: r[1] == m)
        rep["per_model"][m] = {"op_mape": mo["mape"], "step_mape": ms["mape"],
                               "op_count": mo["count"], "step_count": ms["count"]}
    rep["per_step"] = [{"trace": r[0], "step": r[2], "phase": r[3], "simulated_ns": r[4],
                        "measured_ns": r[5], "error": (r[4] - r[5]) / r[5] * 100} for r in steps]
    rep["skipped"] = pairs["skipped"]
    return rep


def validate(hw, traces, *, progress: bool = False) -> dict:
    """Error report of ``traces`` (paths or :class:`Trace` objects) simulated on ``hw``;
    ``progress`` reports the steps compared on stderr (:mod:`archsim.progress`)."""
    if not isinstance(hw, HardwareConfig):
        hw = load_hardware(hw)
    loaded = _load(traces)
    if not loaded:
        raise ArchsimError("no traces to validate")
    bar = None
    if progress:
        from ..progress import progress_bar
        bar = progress_bar(sum(len(t.steps) for _, t in loaded), "step", "validate")
    pairs = compare(hw, loaded, bar)
    if bar is not None:
        bar.close()
    rep = summarize(hw, loaded, pairs)
    rep["_pairs"] = pairs  # for plotting; dropped from JSON output
    return rep


def format_report(rep: dict) -> str:
    def f(v, spec="8.1f"):
        return format(v, spec) if v is not None else f"{'-':>{spec.split('.')[0]}}"

    lines = [f"hardware {rep['hardware']}: {len(rep['traces'])} trace(s)",
             f"{'':<18}{'count':>7}{'MAPE%':>8}{'max%':>8}{'bias%':>8}{'pearson':>8}"]
    for label, st in [("steps", rep["steps"]), ("ops", rep["ops"])] + [
            (f"  {k}", v) for k, v in rep["per_kind"].items()]:
        lines.append(f"{label:<18}{st['count']:>7}{f(st['mape'])}{f(st['max_error'])}"
                     f"{f(st['bias'])}{f(st['pearson'], '8.3f')}")
    lines.append("op: kernel time without launch_overhead vs measured op time; step: simulated "
                 "step incl. launch_overhead vs measured wall time")
    if rep["skipped"]:
        lines.append("skipped: " + ", ".join(f"{k}={v}" for k, v in rep["skipped"].items()))
    return "\n".join(lines)
