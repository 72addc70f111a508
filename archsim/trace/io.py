"""Reading and writing traces as JSON (``.json`` or gzip-compressed ``.json.gz``).

The format is documented in ``docs/trace_format.md``. Loading validates every step and op and
reports the first problem with the file, the JSON path (``steps[3].ops[17].flops``) and what was
expected, as a :class:`~archsim.errors.TraceError`.
"""
from __future__ import annotations

import difflib
import gzip
import json
import os

from ..dtypes import DTYPE_BITS
from ..errors import TraceError
from ..fsutil import read_json, write_atomic
from .schema import OP_KINDS, SCHEMA_NAME, SCHEMA_VERSION, Op, OpKind, Phase, Step, Trace

_OP_INT = ("flops", "bytes_read", "bytes_written", "weight_bytes", "kv_bytes")
_OP_KEYS = {"id", "name", "kind", "layer", "shape", "dtype", *_OP_INT, "weight_dtype", "kv_dtype",
            "deps", "measured_ns", "measured_energy_j", "attrs", "devices", "prior"}
_STEP_KEYS = {"index", "phase", "batch", "new_tokens", "context_len", "ops", "measured_ns",
              "measured_energy_j", "tokens_out", "first_tokens", "barrier"}


def op_to_dict(op: Op) -> dict:
    d = {"id": op.id, "name": op.name, "kind": op.kind.value, "layer": op.layer,
         "shape": dict(op.shape), "dtype": op.dtype, "flops": op.flops,
         "bytes_read": op.bytes_read, "bytes_written": op.bytes_written}
    for k in ("weight_bytes", "kv_bytes"):
        if getattr(op, k):
            d[k] = getattr(op, k)
    for k in ("weight_dtype", "kv_dtype", "measured_ns", "measured_energy_j"):
        if getattr(op, k) is not None:
            d[k] = getattr(op, k)
    d["deps"] = list(op.deps)
    if op.attrs:
        d["attrs"] = dict(op.attrs)
    if op.devices:
        d["devices"] = list(op.devices)
    if op.prior:
        d["prior"] = [list(p) for p in op.prior]
    return d


def trace_to_dict(trace: Trace, progress=None) -> dict:
    """The JSON document of ``trace``; ``progress`` (an object with ``update``) is told of
    each step converted."""
    steps = []
    for s in trace.steps:
        if progress is not None:
            progress.update(1)
        sd = {"index": s.index, "phase": s.phase.value, "batch": s.batch,
              "new_tokens": s.new_tokens, "context_len": s.context_len,
              "ops": [op_to_dict(o) for o in s.ops]}
        if s.measured_ns is not None:
            sd["measured_ns"] = s.measured_ns
        if s.measured_energy_j is not None:
            sd["measured_energy_j"] = s.measured_energy_j
        for k in ("tokens_out", "first_tokens"):
            if getattr(s, k) is not None:
                sd[k] = getattr(s, k)
        if not s.barrier:
            sd["barrier"] = False
        steps.append(sd)
    return {"schema": SCHEMA_NAME, "version": trace.version, "source": trace.source,
            "workload": trace.workload, "meta": trace.meta, "steps": steps}


def save_trace(trace: Trace, path, progress: bool = False) -> None:
    """Write ``trace`` to ``path`` (gzip if it ends with ``.gz``), atomically; ``progress``
    reports the steps converted on stderr (:mod:`archsim.progress`)."""
    path = os.fspath(path)
    bar = None
    if progress:
        from ..progress import progress_bar
        bar = progress_bar(len(trace.steps), "step", "trace")
    data = json.dumps(trace_to_dict(trace, bar), separators=(",", ":")).encode()
    if bar is not None:
        bar.close()
    if path.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    write_atomic(path, data)


class _V:
    def __init__(self, file):
        self.file = file

    def fail(self, path, msg):
        raise TraceError(msg, file=self.file, key=path)

    def int(self, obj, key, path, *, min_=0, required=True):
        v = obj.get(key)
        if v is None and not required:
            return 0
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(f"{path}.{key}", f"expected an integer, got {v!r}")
        if v < min_:
            self.fail(f"{path}.{key}", f"expected an integer >= {min_}, got {v}")
        return v

    def opt_num(self, obj, key, path):
        v = obj.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            self.fail(f"{path}.{key}", f"expected a non-negative number or null, got {v!r}")
        return float(v)

    def keys(self, obj, allowed, path):
        if not isinstance(obj, dict):
            self.fail(path, f"expected an object, got {type(obj).__name__}")
        extra = set(obj) - allowed
        if extra:
            self.fail(f"{path}.{sorted(extra)[0]}", f"unknown field; expected one of "
                      f"{', '.join(sorted(allowed))}")


def _load_op(v: _V, d, path, n_before, earlier_steps=()):
    v.keys(d, _OP_KEYS, path)
    for k in ("id", "name", "kind", "shape", "dtype", "flops", "bytes_read", "bytes_written"):
        if k not in d:
            v.fail(f"{path}.{k}", "missing required field")
    if d["id"] != n_before:
        v.fail(f"{path}.id", f"expected {n_before} (ids count up from 0 in order)")
    try:
        kind = OpKind(d["kind"])
    except ValueError:
        v.fail(f"{path}.kind", f"unknown op kind {d['kind']!r}; expected one of "
               + ", ".join(OP_KINDS))
    if not isinstance(d["name"], str):
        v.fail(f"{path}.name", "expected a string")
    shape = d["shape"]
    if not isinstance(shape, dict) or not all(isinstance(x, int) and not isinstance(x, bool)
                                              and x >= 0 for x in shape.values()):
        v.fail(f"{path}.shape", "expected an object of non-negative integers")
    deps = d.get("deps", [])
    if not isinstance(deps, list) or not all(isinstance(x, int) for x in deps):
        v.fail(f"{path}.deps", "expected a list of op ids")
    for x in deps:
        if not 0 <= x < n_before:
            v.fail(f"{path}.deps", f"dependency {x} is not an earlier op of this step")
    layer = d.get("layer", -1)
    if isinstance(layer, bool) or not isinstance(layer, int) or layer < -1:
        v.fail(f"{path}.layer", "expected an integer >= -1")
    ints = {k: v.int(d, k, path, required=k in ("flops", "bytes_read", "bytes_written"))
            for k in _OP_INT}
    attrs = d.get("attrs", {})
    if not isinstance(attrs, dict):
        v.fail(f"{path}.attrs", "expected an object")
    for k in ("dtype", "weight_dtype", "kv_dtype"):
        if d.get(k) is not None and not isinstance(d[k], str):
            v.fail(f"{path}.{k}", "expected a dtype name")
        if d.get(k) is not None and d[k] not in DTYPE_BITS:
            close = difflib.get_close_matches(d[k], list(DTYPE_BITS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else \
                f"expected one of {', '.join(DTYPE_BITS)}"
            v.fail(f"{path}.{k}", f"unknown dtype {d[k]!r}; {hint}")
    devices = d.get("devices", [])
    if not isinstance(devices, list) or not all(isinstance(x, str) and x for x in devices):
        v.fail(f"{path}.devices", "expected a list of device names")
    if len(devices) > 1 and kind is not OpKind.COLLECTIVE:
        v.fail(f"{path}.devices", f"only a collective op runs on several devices; a {kind.value} "
               "op names at most one")
    prior = d.get("prior", [])
    if not isinstance(prior, list):
        v.fail(f"{path}.prior", "expected a list of [steps back, op id] pairs")
    for p in prior:
        if (not isinstance(p, list) or len(p) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in p)):
            v.fail(f"{path}.prior", f"expected [steps back, op id] pairs, got {p!r}")
        back, oid = p
        if not 1 <= back <= len(earlier_steps):
            v.fail(f"{path}.prior", f"{p}: steps back must be 1..{len(earlier_steps)}")
        if not 0 <= oid < len(earlier_steps[-back]):
            v.fail(f"{path}.prior", f"{p}: that step has no op {oid}")
    return Op(d["id"], d["name"], kind, layer, shape, d["dtype"], ints["flops"],
              ints["bytes_read"], ints["bytes_written"], ints["weight_bytes"], ints["kv_bytes"],
              d.get("weight_dtype"), d.get("kv_dtype"), tuple(deps),
              v.opt_num(d, "measured_ns", path), v.opt_num(d, "measured_energy_j", path), attrs,
              tuple(devices), tuple(tuple(p) for p in prior))


def trace_from_dict(data, file=None) -> Trace:
    """Validate and convert a decoded JSON document into a :class:`Trace`."""
    v = _V(file)
    if not isinstance(data, dict):
        v.fail(None, "expected a JSON object at the top level")
    if data.get("schema") != SCHEMA_NAME:
        v.fail("schema", f"expected {SCHEMA_NAME!r}, got {data.get('schema')!r} "
               "(is this an archsim trace? torch.profiler files need `archsim import-kineto`)")
    if data.get("version") != SCHEMA_VERSION:
        v.fail("version", f"unsupported trace version {data.get('version')!r}; this archsim reads "
               f"version {SCHEMA_VERSION}")
    v.keys(data, {"schema", "version", "source", "workload", "meta", "steps"}, "")
    steps_in = data.get("steps")
    if not isinstance(steps_in, list) or not steps_in:
        v.fail("steps", "expected a non-empty list of steps")
    steps = []
    for i, sd in enumerate(steps_in):
        path = f"steps[{i}]"
        v.keys(sd, _STEP_KEYS, path)
        try:
            phase = Phase(sd.get("phase"))
        except ValueError:
            v.fail(f"{path}.phase", "expected one of "
                   + ", ".join(repr(p.value) for p in Phase) + f", got {sd.get('phase')!r}")
        if v.int(sd, "index", path) != i:
            v.fail(f"{path}.index", f"expected {i}")
        ops_in = sd.get("ops")
        if not isinstance(ops_in, list):
            v.fail(f"{path}.ops", "expected a list of ops")
        earlier = [s.ops for s in steps]
        ops = tuple(_load_op(v, od, f"{path}.ops[{j}]", j, earlier)
                    for j, od in enumerate(ops_in))
        batch = v.int(sd, "batch", path, min_=1)
        counts = {k: v.int(sd, k, path) if sd.get(k) is not None else None
                  for k in ("tokens_out", "first_tokens")}
        if counts["first_tokens"] is not None and counts["first_tokens"] > batch:
            v.fail(f"{path}.first_tokens", f"expected at most batch = {batch}")
        barrier = sd.get("barrier", True)
        if not isinstance(barrier, bool):
            v.fail(f"{path}.barrier", f"expected true or false, got {barrier!r}")
        steps.append(Step(i, phase, batch,
                          v.int(sd, "new_tokens", path, min_=1),
                          v.int(sd, "context_len", path, min_=1), ops,
                          v.opt_num(sd, "measured_ns", path),
                          v.opt_num(sd, "measured_energy_j", path),
                          counts["tokens_out"], counts["first_tokens"], barrier))
    workload = data.get("workload", {})
    meta = data.get("meta", {})
    if not isinstance(workload, dict) or not isinstance(meta, dict):
        v.fail("workload", "expected objects for workload and meta")
    return Trace(tuple(steps), workload, str(data.get("source", "analytic")), meta)


def load_trace(path) -> Trace:
    """Read and validate a trace file (JSON, or gzip JSON)."""
    path = os.fspath(path)
    data = read_json(path, "trace")
    return trace_from_dict(data, file=path)
