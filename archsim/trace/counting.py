"""Exact FLOP and byte counts for each op kind, and the conventions they follow.

Matmuls count 2 FLOPs per multiply-accumulate (``2 m n k``) plus one per bias element. Attention
score and context ops are counted as the dense batched matmuls a non-fused kernel executes
(the full ``q_len x kv_len`` matrix, causal masking does not remove work). Element-wise kernels
count the arithmetic operations per element listed in :data:`FLOPS_PER_ELEMENT`; transcendental
functions (exp, tanh, rsqrt) count as one operation, as in fvcore and LLMCompass.

Bytes are those of each operand read once and each result written once, at its dtype: the
minimum DRAM traffic of the op when nothing is fused or cached across ops.
"""
from __future__ import annotations

from functools import lru_cache

from ..dtypes import nbytes
from .dequant import dequant_attrs
from .schema import Op, OpKind

#: arithmetic operations per element (see module docstring)
FLOPS_PER_ELEMENT = {
    # LayerNorm: mean (add), centre (sub), square, variance (add), scale by rstd (mul),
    # gamma (mul), beta (add); the per-row rsqrt is counted separately.
    "layernorm": 7,
    # RMSNorm: square, sum (add), scale by rstd (mul), gamma (mul); per-row rsqrt separate.
    "rmsnorm": 4,
    # softmax with scaling: scale (mul), running max (cmp), sub, exp, sum (add), div
    "softmax": 6,
    # GELU tanh approximation: x^3 (2 mul), mul, add, mul, tanh, add, mul, mul
    "gelu": 9,
    "relu": 1,
    # SwiGLU: silu(g) = g / (1 + exp(-g)) (neg, exp, add, div), times up (mul)
    "silu": 5,
    # RoPE on each element: x cos + rotate(x) sin (2 mul, 1 add)
    "rope": 3,
    "add": 1,
    # greedy sampling: one compare per logit
    "argmax": 1,
}


@lru_cache(maxsize=1 << 16)  # decode steps repeat every op but attention
def matmul(id_, name, layer, m, n, k, dtype, wdtype, deps, *, bias, extra_written=0, kv_dtype=None,
           kv_written_bytes=0, wfmt=None) -> Op:
    """``[m, k] x [k, n] (+ bias[n])``: a GEMV when ``m == 1`` else a GEMM.

    ``wfmt`` (a :class:`~archsim.trace.formats.WeightFormat`) stores the weights with group-wise
    scales and/or N:M sparsity: weight bytes are the format's exact bytes and FLOPs count the
    stored (non-zero) weights only. Weights narrower than half-precision activations carry their
    dequantisation work (:mod:`archsim.trace.dequant`) in ``attrs``."""
    if wfmt is None or wfmt.plain:
        weight_bytes = nbytes(k * n + (n if bias else 0), wdtype)
        flops = 2 * m * n * k + (m * n if bias else 0)
        attrs = dequant_attrs(dtype, wdtype, k * n)
    else:
        weight_bytes = wfmt.bytes(k, n, bias)
        flops = 2 * m * wfmt.nonzeros(k, n) + (m * n if bias else 0)
        attrs = {**wfmt.attrs(), **dequant_attrs(dtype, wdtype, wfmt.nonzeros(k, n))}
    read = nbytes(m * k, dtype) + weight_bytes
    written = nbytes(m * n, dtype) if not extra_written else extra_written
    kind = OpKind.GEMV if m == 1 else OpKind.GEMM
    return Op(id_, name, kind, layer, {"m": m, "n": n, "k": k}, dtype, flops, read, written,
              weight_bytes=weight_bytes, kv_bytes=kv_written_bytes, weight_dtype=wdtype,
              kv_dtype=kv_dtype, deps=tuple(deps), attrs=attrs)


@lru_cache(maxsize=1 << 16)
def elementwise(id_, name, kind, layer, rows, cols, fn, dtype, deps, *, inputs=1,
                param_elements=0, wdtype=None, per_row_flops=0) -> Op:
    """``inputs`` tensors of ``rows x cols`` in, one out, applying ``fn`` per element."""
    elements = rows * cols
    flops = FLOPS_PER_ELEMENT[fn] * elements + per_row_flops * rows
    wbytes = nbytes(param_elements, wdtype) if param_elements else 0
    read = inputs * nbytes(elements, dtype) + wbytes
    return Op(id_, name, kind, layer, {"rows": rows, "cols": cols}, dtype, flops, read,
              nbytes(elements, dtype), weight_bytes=wbytes,
              weight_dtype=wdtype if param_elements else None, deps=tuple(deps),
              attrs={"fn": fn})


def attention(id_, name, kind, layer, batch, heads, kv_heads, q_len, kv_len, head_dim, dtype,
              kv_dtype, deps, attrs=None) -> Op:
    """Score ``Q K^T`` or context ``P V`` for ``batch`` sequences against a KV cache of
    ``kv_len`` tokens (the attended keys: the whole context, or sink + window)."""
    macs = batch * heads * q_len * kv_len * head_dim
    kv = nbytes(batch * kv_heads * kv_len * head_dim, kv_dtype)
    if kind is OpKind.ATTENTION_SCORE:
        read = nbytes(batch * heads * q_len * head_dim, dtype) + kv
        written = nbytes(batch * heads * q_len * kv_len, dtype)
    else:
        read = nbytes(batch * heads * q_len * kv_len, dtype) + kv
        written = nbytes(batch * heads * q_len * head_dim, dtype)
    shape = {"batch": batch, "heads": heads, "kv_heads": kv_heads, "q_len": q_len,
             "kv_len": kv_len, "head_dim": head_dim}
    return Op(id_, name, kind, layer, shape, dtype, 2 * macs, read, written, kv_bytes=kv,
              kv_dtype=kv_dtype, deps=tuple(deps), attrs=dict(attrs) if attrs else {})


@lru_cache(maxsize=256)
def embedding(id_, rows, cols, dtype, wdtype, learned_positions) -> Op:
    """Gather ``rows`` token-embedding rows (plus learned position rows, added)."""
    gathered = nbytes(rows * cols, wdtype) * (2 if learned_positions else 1)
    return Op(id_, "embed", OpKind.EMBEDDING, -1, {"rows": rows, "cols": cols}, dtype,
              rows * cols if learned_positions else 0, gathered, nbytes(rows * cols, dtype),
              weight_bytes=gathered, weight_dtype=wdtype,
              attrs={"fn": "add" if learned_positions else "copy"})
