"""GEAR's write side: compressing new KV entries, as ops in the trace.

Kang et al., "GEAR: An Efficient KV Cache Compression Recipe for Near-Lossless Generative
Inference of LLM", arXiv:2403.05527, 2024: each K and V matrix ``X`` (``n`` tokens x ``d =
kv_heads x head_dim``) is stored as the largest and smallest entries (sparse outliers), a
quantised backbone of the rest and a low-rank approximation of the quantisation residual,
found by power iteration. New entries wait in an uncompressed streaming buffer and are
compressed ``buffer_tokens`` at a time; the prompt's entries are compressed after the prefill.
The steps and their counts follow the authors' reference implementation
(github.com/HaoKang-Timmy/GEAR, ``TrueCompressFunction.py``: ``true_gear_compress`` and
``true_poweriteration``; ``streaming_cache_utils.py``; its run scripts use a streaming gap of
64 tokens and 3 power iterations).

Per layer whose entries are compressed, three element-wise kernels over ``N = 2 B n d``
entries (K and V of ``B`` sequences), each depending on the previous, the first on the layer's
QKV projection (``n``: the prompt at the prefill, ``buffer_tokens`` when a buffer fills):

* ``L<i>.gear_outliers``: two top-k passes (the ``s / 2`` smallest and largest of each matrix,
  ``s = ceil(outlier_fraction n d)``): one compare per entry per pass, ``2 N`` FLOPs; reads the
  entries, writes ``s`` fp16 values and ``s`` int32 indices per matrix;
* ``L<i>.gear_quantise``: min and max (2 compares), subtract, divide, round (3), and the
  residual (dequantise: multiply, add; subtract: 3): ``8 N`` FLOPs; reads the entries, writes
  the backbone at the ``kv_cache`` dtype and the residual at the activations' dtype;
* ``L<i>.gear_lowrank``: ``power_iterations`` iterations of ``Q = E P`` and ``P = E^T Q``
  (``4 n d r`` FLOPs per matrix each, ``r = ceil(rank_ratio min(n, d))``), then the QR of the
  ``n x r`` and ``d x r`` bases (Householder, ``2 m r^2 - 2 r^3 / 3`` each), in fp32 as the
  reference code computes them (PyTorch's fp32 matmul runs on the CUDA cores unless TF32 is
  enabled, so these are vector FLOPs: an element-wise op); reads the residual once and its fp32
  copy twice per iteration, writes the ``(n + d) r`` fp16 factors.

Counted for the target model's layers (a speculative draft's cache is not compressed here).
The ops carry ``attrs: {kv_compression: gear}``: devices that cannot run GEAR refuse them.
"""
from __future__ import annotations

import math
import re

from ...dtypes import nbytes
from ...trace.schema import Op, OpKind

_SCORE = re.compile(r"^L(\d+)\.attn_score$")


def compress_counts(g, n: int, d: int, matrices: int, act: str, kv: str) -> list:
    """``[(name, flops, bytes read, bytes written), ...]`` of the three kernels compressing
    ``matrices`` K or V matrices of ``n x d`` entries (see module docstring)."""
    N = matrices * n * d
    s = math.ceil(g.outlier_fraction * n * d)
    r = math.ceil(g.rank_ratio * min(n, d))
    qr = sum(2 * m * r * r - (2 * r ** 3) // 3 for m in (n, d)) if r else 0
    it = g.power_iterations
    return [
        ("gear_outliers", 2 * N, nbytes(N, act),
         matrices * (nbytes(s, "fp16") + 4 * s)),         # int32 indices: 4 bytes
        ("gear_quantise", 8 * N, nbytes(N, act), nbytes(N, kv) + nbytes(N, act)),
        ("gear_lowrank", matrices * (4 * it * n * d * r + qr),
         nbytes(N, act) + 2 * it * nbytes(N, "fp32"), matrices * nbytes((n + d) * r, "fp16")),
    ]


def write_ops(g, ops, first_id: int, tokens: int, compressions: int, act: str, kv: str) -> list:
    """The compression ops of a step whose logical ops are ``ops``: ``compressions``
    compressions of ``tokens`` entries per sequence, for every target layer with attention in
    the step; ids from ``first_id``."""
    if not compressions:
        return []
    qkv = {op.name: op.id for op in ops}
    out = []
    for op in ops:
        m = _SCORE.match(op.name)
        if m is None:
            continue
        layer, sh = int(m.group(1)), op.shape
        B, d = int(sh["batch"]), int(sh["kv_heads"]) * int(sh["head_dim"])
        dep = qkv[f"L{layer}.qkv_proj"]
        for name, flops, read, written in compress_counts(g, tokens, d, 2 * B, act, kv):
            i = first_id + len(out)
            out.append(Op(i, f"L{layer}.{name}", OpKind.ELEMENTWISE, layer,
                          {"rows": 2 * B * tokens * compressions, "cols": d}, act,
                          flops * compressions, read * compressions,
                          written * compressions, kv_dtype=kv, deps=(dep,),
                          attrs={"kv_compression": g.method}))
            dep = i
    return out
