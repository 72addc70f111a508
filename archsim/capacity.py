"""Memory per device: weight shards, KV cache and activations, and the largest batch that fits.

Counted from the trace the engine will run (after the design point's transforms and mapping),
at its last step, the longest context:

- **weights**: every weight an op on the device reads (each distinct op name and layer once:
  micro-batches re-read the same weights), plus the whole embedding table on every device that
  runs an embedding op (gathered rows are what an op reads; the table is what it holds). A tied
  LM head on the same device is that table.
- **KV cache**: the K read by the device's attention-score ops plus the V read by its context
  ops (both the whole cache), replicas included (tensor ranks sharing a KV head each hold it);
  an op marked ``attrs: {kv_reread: true}`` reads a cache an earlier op of the step already
  counted (a speculative draft's second and later passes).
- **activations**: the largest working set of one op (inputs and output, weights and KV
  excluded); prefill activations are assumed processed in chunks that fit.

Capacities are never summed across devices: a model that does not fit on one device is an error
naming that device and the bytes missing.
"""
from __future__ import annotations

import dataclasses

from .dtypes import nbytes
from .errors import SimulationError
from .trace.schema import OpKind


def memory_by_device(trace, mapper) -> dict:
    """``{device: {"weights": B, "kv": B, "activations": B}}`` at the trace's last step."""
    step = trace.steps[-1]
    model = (trace.workload or {}).get("model") or {}
    wdt = ((trace.workload or {}).get("precision") or {}).get("weights", "fp16")
    out: dict = {}
    seen: dict = {}
    embed_on = set()
    for op in step.ops:
        where = mapper.assign(op)
        if op.kind is OpKind.TRANSFER or type(where) is tuple:
            continue
        m = out.setdefault(where, {"weights": 0, "kv": 0, "activations": 0})
        if op.kind is OpKind.EMBEDDING:
            embed_on.add(where)
        elif op.weight_bytes:
            key = (where, op.name, op.layer)
            if op.weight_bytes > seen.get(key, 0):
                m["weights"] += op.weight_bytes - seen.get(key, 0)
                seen[key] = op.weight_bytes
        if op.kind in (OpKind.ATTENTION_SCORE, OpKind.ATTENTION_CONTEXT) \
                and not op.attrs.get("kv_reread"):    # a cache an earlier op of the step read
            m["kv"] += op.kv_bytes
        act = op.bytes_read - op.weight_bytes - (op.kv_bytes if op.kind in (
            OpKind.ATTENTION_SCORE, OpKind.ATTENTION_CONTEXT) else 0) + op.bytes_written
        m["activations"] = max(m["activations"], act)
    if model and embed_on:
        d, v = int(model["hidden_size"]), int(model["vocab_size"])
        table = nbytes(v * d, wdt)
        pos = nbytes(int(model["max_positions"]) * d, wdt) \
            if model.get("position") == "learned" else 0
        for dev in embed_on:
            tied = model.get("tied_embeddings") and (dev, "lm_head", -1) in seen
            out[dev]["weights"] += pos + (max(0, table - seen[(dev, "lm_head", -1)]) if tied
                                          else table)
    return out


def check_fits(trace, system, mapper, hw_name: str) -> None:
    """Raise :class:`SimulationError` if some device cannot hold what it is given."""
    for dev, need in sorted(memory_by_device(trace, mapper).items()):
        cap = system.devices[dev].memory_capacity_bytes()
        total = sum(need.values())
        if cap is not None and total > cap:
            raise SimulationError(
                f"device {dev!r} of {hw_name} needs {total / 2**30:.2f} GiB (weights "
                f"{need['weights'] / 2**30:.2f} GiB + KV cache {need['kv'] / 2**30:.2f} GiB + "
                f"activations {need['activations'] / 2**30:.2f} GiB) but holds "
                f"{cap / 2**30:.2f} GiB: {(total - cap) / 2**30:.2f} GiB missing")


def max_batch(workload, hw, prepare, *, limit: int = 1 << 20) -> int:
    """The largest batch of ``workload`` whose run fits on every device of ``hw``.

    ``prepare(workload) -> (trace, system, mapper)`` builds what the engine would run; it is
    called on a two-step probe (one decode step at the longest context), a few dozen times at
    most (exponential then binary search over multiples of the plan's micro-batch count).
    """
    par = hw.parallelism
    q = par.micro_batches if par is not None else 1
    ctx = workload.prompt_tokens + workload.generate_tokens - 1
    probe = dataclasses.replace(workload, prompt_tokens=max(ctx - 1, 1),
                                generate_tokens=2 if ctx > 1 else 1)

    def fits(b: int) -> bool:
        trace, system, mapper = prepare(dataclasses.replace(probe, batch_size=b))
        try:
            check_fits(trace, system, mapper, hw.name)
        except SimulationError:
            return False
        return True

    if not fits(q):
        trace, system, mapper = prepare(dataclasses.replace(probe, batch_size=q))
        check_fits(trace, system, mapper, hw.name)   # raises, naming the device
    lo, hi = q, 2 * q
    while hi <= limit and fits(hi):
        lo, hi = hi, 2 * hi
    if hi > limit:
        raise SimulationError(f"batch_size: max found no limit below {limit} on {hw.name} "
                              "(do its devices declare a memory capacity?)")
    while hi - lo > q:                      # invariant: lo fits, hi does not
        mid = (lo + hi) // (2 * q) * q
        if mid <= lo:
            break
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo
