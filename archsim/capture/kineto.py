"""Import a ``torch.profiler`` (Kineto) Chrome trace as a measured archsim trace.

What is read (see ``docs/capture.md``):

* **Op regions**: ``ph: "X"`` events of category ``user_annotation`` (or ``cpu_op``) whose name
  is ``archsim::<op name>``, as written by :mod:`archsim.reference`, or matches a user alias
  (``--map REGEX=OP``). **Step regions**: ``archsim.step::<index>`` annotations; without them a
  new step starts at each ``embed`` op.
* **GPU kernels** (categories ``kernel``, ``gpu_memcpy``, ``gpu_memset``) are joined to the op
  region whose time span contains their launch: the ``cuda_runtime``/``cuda_driver`` event with
  the same ``correlation`` id gives the launch time and thread; failing that, the CPU event with
  the same ``External id``; failing that, a ``gpu_user_annotation`` op region on the GPU timeline
  that contains the kernel. An op's measured time is the **sum of its kernels' durations**.
* **Without kernels** (a CPU capture) an op's measured time is its region's wall time.

Times in Kineto files are microseconds; archsim traces store nanoseconds.
"""
from __future__ import annotations

import bisect
import json
import os
import re
from collections import defaultdict
from dataclasses import replace

from ..fsutil import read_json
from ..errors import ArchsimError, TraceError
from ..reference import ANNOTATION_PREFIX, STEP_PREFIX
from ..trace.generate import generate_trace
from ..trace.schema import Trace
from ..workload import Workload, load_workload

KERNEL_CATS = frozenset({"kernel", "gpu_memcpy", "gpu_memset"})
RUNTIME_CATS = frozenset({"cuda_runtime", "cuda_driver", "runtime", "driver"})
ANNOTATION_CATS = frozenset({"user_annotation", "cpu_op"})
GPU_ANNOTATION_CAT = "gpu_user_annotation"
#: key under which :mod:`archsim.capture` stores the workload in the Kineto file
WORKLOAD_KEY = "archsim_workload"


def read_kineto(path) -> dict:
    """Read a Chrome trace (plain or gzip JSON) and check its top level."""
    return read_json(path, "Kineto trace", "expected a torch.profiler Chrome trace")


def parse_aliases(items) -> list:
    """``["REGEX=OP", ...]`` -> ``[(compiled regex, op template)]`` (see :func:`import_kineto`)."""
    out = []
    for item in items or ():
        if "=" not in item:
            raise ArchsimError(f"--map {item!r}: expected REGEX=OP, e.g. "
                               r"'layers\.(?P<layer>\d+)\.mlp\.up=L{layer}.ffn_up'")
        pat, op = item.rsplit("=", 1)
        try:
            out.append((re.compile(pat), op))
        except re.error as exc:
            raise ArchsimError(f"--map {item!r}: bad regular expression: {exc}") from None
    return out


class _Fail:
    def __init__(self, file):
        self.file = file

    def __call__(self, key, msg):
        raise TraceError(msg, file=self.file, key=key)


def _num(fail, e, i, key):
    v = e.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        fail(f"traceEvents[{i}].{key}", f"expected a number (microseconds), got {v!r}")
    return float(v)


def _op_name(name, aliases):
    """The archsim op name of annotation ``name`` or None if it is not an op region.

    An alias template with ``{layer}`` but no ``layer`` group keeps ``{layer}``: it is filled
    per step, by order of occurrence, when regions are grouped into steps.
    """
    if name.startswith(ANNOTATION_PREFIX):
        return name[len(ANNOTATION_PREFIX):]
    for rx, template in aliases:
        m = rx.fullmatch(name)
        if m:
            fields = m.groupdict()
            if "{layer}" in template and "layer" not in fields:
                fields["layer"] = "{layer}"
            return template.format(**fields)
    return None


def measure(doc, *, file=None, aliases=()) -> dict:
    """Measured time per op region, grouped into steps, from a decoded Kineto document.

    Returns ``{"steps": [{name: ns}], "mode": "cuda"|"cpu", ...statistics}``.
    """
    fail = _Fail(file)
    if not isinstance(doc, dict):
        fail(None, "expected a JSON object with 'traceEvents' (a torch.profiler Chrome trace)")
    events = doc.get("traceEvents")
    if not isinstance(events, list):
        fail("traceEvents", "missing or not a list: expected the torch.profiler Chrome trace "
             "event list")
    ops, steps, kernels, gpu_ops = [], [], [], []
    launch_by_corr, cpu_by_ext = {}, {}
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            fail(f"traceEvents[{i}]", "expected an event object")
        if e.get("ph") != "X":
            continue
        cat, name = e.get("cat"), e.get("name")
        args = e.get("args") if isinstance(e.get("args"), dict) else {}
        if cat in KERNEL_CATS:
            kernels.append((i, e, args))
        elif cat in RUNTIME_CATS and "correlation" in args:
            launch_by_corr[args["correlation"]] = (e.get("pid"), e.get("tid"), _num(fail, e, i, "ts"))
        elif cat in ANNOTATION_CATS or cat == GPU_ANNOTATION_CAT:
            if not isinstance(name, str):
                fail(f"traceEvents[{i}].name", "expected a string")
            if cat != GPU_ANNOTATION_CAT and "External id" in args:
                cpu_by_ext.setdefault(args["External id"], (e.get("pid"), e.get("tid"),
                                                            _num(fail, e, i, "ts")))
            if name.startswith(STEP_PREFIX) and cat != GPU_ANNOTATION_CAT:
                idx = name[len(STEP_PREFIX):]
                if not idx.isdigit():
                    fail(f"traceEvents[{i}].name", f"expected {STEP_PREFIX}<step index>")
                steps.append((e.get("pid"), e.get("tid"), _num(fail, e, i, "ts"),
                              _num(fail, e, i, "dur"), int(idx)))
                continue
            op = _op_name(name, aliases) if cat != GPU_ANNOTATION_CAT else (
                name[len(ANNOTATION_PREFIX):] if name.startswith(ANNOTATION_PREFIX) else None)
            if op is None:
                continue
            rec = {"i": i, "op": op, "pid": e.get("pid"), "tid": e.get("tid"),
                   "ts": _num(fail, e, i, "ts"), "dur": _num(fail, e, i, "dur"), "kernel_us": 0.0,
                   "kernels": 0}
            (gpu_ops if cat == GPU_ANNOTATION_CAT else ops).append(rec)
    if not ops:
        fail("traceEvents", f"no op regions found: expected user_annotation events named "
             f"'{ANNOTATION_PREFIX}<op>' (record_function in archsim.reference) or names "
             "matching a --map alias")
    mode = "cuda" if kernels else "cpu"
    stats = {"mode": mode, "kernels": len(kernels), "kernel_ns": 0.0,
             "unattributed_kernels": 0, "unattributed_kernel_ns": 0.0}
    if kernels:
        _join_kernels(kernels, ops, gpu_ops, launch_by_corr, cpu_by_ext, fail, stats)
    # group op regions into steps
    by_thread = defaultdict(list)
    for s in steps:
        by_thread[(s[0], s[1])].append(s)
    grouped = defaultdict(dict)
    order = []
    if steps:
        for t in by_thread.values():
            t.sort(key=lambda s: s[2])
        for r in sorted(ops, key=lambda r: r["ts"]):
            cand = by_thread.get((r["pid"], r["tid"]), [])
            j = bisect.bisect_right([s[2] for s in cand], r["ts"]) - 1
            if j < 0 or r["ts"] > cand[j][2] + cand[j][3]:
                fail(f"traceEvents[{r['i']}]", f"op region {r['op']!r} lies outside every "
                     f"{STEP_PREFIX}<index> step region")
            idx = cand[j][4]
            if idx not in grouped:
                order.append(idx)
            _add(grouped[idx], r, mode)
        if sorted(order) != list(range(len(order))):
            fail("traceEvents", f"step regions {sorted(order)} are not numbered 0..{len(order)-1}")
        step_list = [grouped[i] for i in range(len(order))]
    else:  # no step regions: a step starts at each embedding lookup
        step_list = []
        for r in sorted(ops, key=lambda r: r["ts"]):
            if r["op"] == "embed" or not step_list:
                step_list.append({})
            _add(step_list[-1], r, mode)
    for st in step_list:
        st.pop(_COUNTERS, None)
    stats["steps"] = step_list
    stats["op_regions"] = len(ops)
    return stats


_COUNTERS = "\0counters"


def _add(step, r, mode):
    ns = (r["kernel_us"] if mode == "cuda" else r["dur"]) * 1000.0
    name = r["op"]
    if "{layer}" in name:  # unindexed alias: the n-th occurrence in the step is layer n
        counters = step.setdefault(_COUNTERS, defaultdict(int))
        layer = counters[name]
        counters[name] += 1
        name = name.replace("{layer}", str(layer))
    prev = step.get(name)
    step[name] = (prev[0] + ns, prev[1] + r["kernels"]) if prev else (ns, r["kernels"])


def _containing(index, key, t):
    """The innermost region of ``index[key]`` (sorted by start) whose span contains ``t``."""
    regions = index.get(key)
    if not regions:
        return None
    j = bisect.bisect_right(regions[0], t) - 1
    for k in range(j, max(j - 16, -1), -1):
        r = regions[1][k]
        if r["ts"] <= t <= r["ts"] + r["dur"]:
            return r
    return None


def _index(regions, by_thread=True):
    idx = defaultdict(list)
    for r in regions:
        idx[(r["pid"], r["tid"]) if by_thread else None].append(r)
    out = {}
    for k, rs in idx.items():
        rs.sort(key=lambda r: r["ts"])
        out[k] = ([r["ts"] for r in rs], rs)
    return out


def _join_kernels(kernels, ops, gpu_ops, launch_by_corr, cpu_by_ext, fail, stats):
    cpu_idx = _index(ops)
    gpu_idx = _index(gpu_ops, by_thread=False)
    for i, e, args in kernels:
        dur = _num(fail, e, i, "dur")
        corr, ext = args.get("correlation"), args.get("External id")
        if corr is None and ext is None:
            fail(f"traceEvents[{i}].args.correlation", f"kernel {e.get('name')!r} has neither a "
                 "'correlation' nor an 'External id': cannot tell which op launched it")
        where = launch_by_corr.get(corr) if corr is not None else None
        if where is None and ext is not None:
            where = cpu_by_ext.get(ext)
        region = None
        if where is not None:
            region = _containing(cpu_idx, (where[0], where[1]), where[2])
        if region is None and where is None:
            region = _containing(gpu_idx, None, _num(fail, e, i, "ts"))
            if region is not None:  # map the GPU-side region to a CPU region of the same op
                region = _nearest_cpu(ops, region)
        stats["kernel_ns"] += dur * 1000.0
        if region is None:
            stats["unattributed_kernels"] += 1
            stats["unattributed_kernel_ns"] += dur * 1000.0
            continue
        region["kernel_us"] += dur
        region["kernels"] += 1
    if stats["unattributed_kernels"] == stats["kernels"]:
        fail("traceEvents", f"none of the {stats['kernels']} GPU kernels could be joined to an "
             "op region (by correlation id, External id or time containment)")


def _nearest_cpu(ops, gregion):
    """The CPU op region with the same op name that started last before the GPU region."""
    best = None
    for r in ops:
        if r["op"] == gregion["op"] and r["ts"] <= gregion["ts"] and (
                best is None or r["ts"] > best["ts"]):
            best = r
    return best


def workload_of(doc, workload=None, overrides=(), file=None) -> Workload:
    """The workload given, else the one the capture stored in the Kineto file."""
    if workload is not None:
        return load_workload(workload, overrides)
    stored = doc.get(WORKLOAD_KEY) if isinstance(doc, dict) else None
    if isinstance(stored, str):
        try:
            stored = json.loads(stored)
        except json.JSONDecodeError:
            stored = None
    if not isinstance(stored, dict):
        raise TraceError("the Kineto trace does not name its workload: pass --workload "
                         "WORKLOAD.yaml (the model, batch and lengths that were run)",
                         file=file, key=WORKLOAD_KEY)
    return load_workload(stored, overrides)


def import_kineto(source, workload=None, *, overrides=(), aliases=(), file=None) -> Trace:
    """Build a measured archsim trace from a Kineto trace (a path or a decoded document).

    Every op region found must be an op of the workload's analytic trace, and the number of steps
    must equal the workload's ``generate_tokens``. Analytic ops without a region keep
    ``measured_ns = None``. ``aliases`` (from :func:`parse_aliases`) map other region names to
    op names; a ``{layer}`` in the op template is filled from a ``(?P<layer>...)`` group, or else
    by counting occurrences within the step.
    """
    if isinstance(source, (str, os.PathLike)):
        file = os.fspath(source)
        doc = read_kineto(source)
    else:
        doc = source
    m = measure(doc, file=file, aliases=aliases)
    w = workload_of(doc, workload, overrides, file)
    analytic = generate_trace(w)
    found = m["steps"]
    if len(found) != len(analytic.steps):
        raise TraceError(f"found {len(found)} steps in the Kineto trace but the workload has "
                         f"{len(analytic.steps)} (generate_tokens={w.generate_tokens}); pass the "
                         "workload that was run", file=file, key="traceEvents")
    steps, unmeasured = [], 0
    for si, (step, meas) in enumerate(zip(analytic.steps, found)):
        names = {op.name for op in step.ops}
        extra = sorted(set(meas) - names)
        if extra:
            raise TraceError(f"step {si}: op region {extra[0]!r} is not an op of the workload's "
                             f"analytic trace ({w.model.num_layers} layers; ops are named like "
                             f"'L0.qkv_proj', 'lm_head')", file=file, key="traceEvents")
        ops = []
        for op in step.ops:
            got = meas.get(op.name)
            if got is None:
                unmeasured += 1
                ops.append(op)
                continue
            attrs = dict(op.attrs)
            if m["mode"] == "cuda":
                attrs["kernels"] = got[1]
            ops.append(replace(op, measured_ns=got[0], attrs=attrs))
        steps.append(replace(step, ops=tuple(ops)))
    meta = {"importer": "archsim.capture.kineto", "measured_op_time":
            "summed GPU kernel time per op region" if m["mode"] == "cuda"
            else "wall time of each op region on the CPU",
            "kineto": {k: m[k] for k in ("mode", "kernels", "kernel_ns", "unattributed_kernels",
                                         "unattributed_kernel_ns", "op_regions")},
            "unmeasured_ops": unmeasured}
    if file:
        meta["kineto"]["file"] = os.path.basename(file)
    if isinstance(doc.get("deviceProperties"), list):
        meta["device_properties"] = doc["deviceProperties"]
    return Trace(tuple(steps), w.to_dict(), source="captured", meta=meta)
