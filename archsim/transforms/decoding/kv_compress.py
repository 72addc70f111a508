"""GEAR KV-cache compression extras, as a trace transform.

Kang et al., "GEAR: An Efficient KV Cache Compression Recipe for Near-Lossless Generative
Inference of LLM", arXiv:2403.05527, 2024. GEAR stores each K and V matrix as a quantised
backbone (here: the workload's ``kv_cache`` dtype, already counted by the trace), plus a
low-rank residual and a sparse outlier matrix. Every attention op reading a cache of ``n``
tokens then also, per sequence (``d = kv_heads x head_dim``, ``r = ceil(rank_ratio x
min(n, d))``, ``s = ceil(outlier_fraction x n x d)``):

* reads the low-rank factors, ``(n + d) r`` fp16 values, and the outliers, ``s`` fp16 values
  and ``s`` int32 indices (counted as KV bytes, so memory checks see them);
* computes the reconstruction: the low-rank product (``2 n d r`` FLOPs), the sparse add (``s``)
  and the dequantisation of the backbone (a scale and an offset per entry, ``2 n d``).

The score op carries K's extras, the context op V's. Compressing the entries (the prompt's
after the prefill, new ones whenever GEAR's streaming buffer fills) adds ops of its own
(:mod:`.gear_write`). Ops carry ``attrs: {kv_compression: gear}`` so devices that cannot
reconstruct (PIM MAC units) refuse them.
"""
from __future__ import annotations

import dataclasses
import math

from ...dtypes import nbytes
from ...trace.schema import ATTENTION_KINDS, Trace


def gear_extras(g, n: int, d: int) -> tuple:
    """``(extra bytes read, extra FLOPs)`` of one sequence's K or V matrix of ``n x d``."""
    r = math.ceil(g.rank_ratio * min(n, d))
    s = math.ceil(g.outlier_fraction * n * d)
    extra_bytes = nbytes((n + d) * r, "fp16") + nbytes(s, "fp16") + nbytes(s, "fp32")
    extra_flops = 2 * n * d * r + s + 2 * n * d
    return extra_bytes, extra_flops


def gear_trace(trace: Trace, g, w=None) -> Trace:
    """``trace`` with GEAR's extras on every attention op and the compression of new entries
    (:mod:`.gear_write`; workload ``w`` gives the dtypes, ``None``: no compression ops) (see
    module docstring)."""
    from .gear_write import write_ops
    done: dict = {}
    steps = []
    kept = 0                              # entries per sequence in the streaming buffer
    for st in trace.steps:
        ops = []
        for op in st.ops:
            if op.kind not in ATTENTION_KINDS:
                ops.append(op)
                continue
            hit = done.get(id(op))
            if hit is None or hit[0] is not op:
                sh = op.shape
                b, f = gear_extras(g, int(sh["kv_len"]), int(sh["kv_heads"]) * int(sh["head_dim"]))
                B = int(sh["batch"])
                hit = done[id(op)] = (op, dataclasses.replace(
                    op, flops=op.flops + B * f, bytes_read=op.bytes_read + B * b,
                    kv_bytes=op.kv_bytes + B * b,
                    attrs={**op.attrs, "kv_compression": g.method}))
            ops.append(hit[1])
        if w is not None:
            if st.index == 0:                 # the prompt's entries, after the prefill
                n, times = st.context_len, 1
            else:                             # a buffer of buffer_tokens filled in this step
                before, kept = kept, kept + st.yielded_tokens // st.batch
                n, times = g.buffer_tokens, kept // g.buffer_tokens - before // g.buffer_tokens
            ops += write_ops(g, ops, len(ops), n, times, w.precision.activations,
                             w.precision.kv_cache)
        steps.append(dataclasses.replace(st, ops=tuple(ops)))
    meta = dict(trace.meta)
    meta.setdefault("decoding", {})["kv_compression"] = dataclasses.asdict(g)
    return dataclasses.replace(trace, steps=tuple(steps), meta=meta)


def refuse_compressed_kv(op, device: str, kind: str, why: str) -> None:
    """Raise a :class:`ConfigError` if ``op`` reads a compressed KV cache, which device
    ``device`` of kind ``kind`` cannot reconstruct (``why`` says what it lacks)."""
    method = op.attrs.get("kv_compression")
    if method:
        from ...errors import ConfigError
        raise ConfigError(f"op {op.name!r} reads a {method}-compressed KV cache, which {kind} "
                          f"device {device!r} cannot reconstruct ({why}); place attention on "
                          "another device or drop decoding.kv_compression", key="placement")

