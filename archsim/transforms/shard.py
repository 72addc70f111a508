"""How one logical op becomes its shard: Megatron-style tensor-parallel splits, micro-batch
shares and attention work items, with FLOPs and bytes recounted exactly.

Conventions (Shoeybi et al., "Megatron-LM", arXiv 1909.08053, section 3):

- **column split** (QKV, FFN up / gate): each of ``t`` ranks computes ``n / t`` output columns
  with ``n / t`` of the weights; its input is the whole activation (replicated).
- **row split** (attention out-projection, FFN down): each rank multiplies ``k / t`` input
  columns by ``k / t`` weight rows and writes a full-size partial sum; an all-reduce follows.
  The bias is added once (on rank 0), so shard FLOPs and weights sum to the unsharded op.
- **heads**: attention, softmax and RoPE run on the rank's ``H / t`` query heads and its KV
  heads: ``KV / t``, or one replicated KV head per rank when ``KV < t`` (vLLM's
  ``QKVParallelLinear``: ``t / KV`` ranks hold a copy of each KV head, weights and cache).
- **micro-batch share**: a share ``b / B`` of the batch carries that share of every
  activation-proportional count; weights are read whole by every micro-batch.

Sub-byte types are recounted with :func:`archsim.dtypes.nbytes`, never scaled.
"""
from __future__ import annotations

import dataclasses

from ..dtypes import nbytes
from ..errors import ConfigError
from ..trace.counting import attention
from ..trace.schema import ATTENTION_KINDS, MATMUL_KINDS, Op, OpKind


def _mm(op: Op) -> tuple:
    s = op.shape
    m, n, k = int(s["m"]), int(s["n"]), int(s["k"])
    bias = op.flops - 2 * m * n * k
    return m, n, k, bias > 0


def _matmul(op: Op, m: int, n: int, k: int, bias: bool, written=None, kv=None, *,
            weight_elems=None) -> Op:
    w = nbytes(k * n + (n if bias else 0) if weight_elems is None else weight_elems,
               op.weight_dtype or op.dtype)
    flops = 2 * m * n * k + (m * n if bias else 0)
    attrs = op.attrs
    if attrs and "dequant_elements" in attrs:   # the shard dequantises its own weights only
        attrs = {**attrs, "dequant_elements": k * n}
    return dataclasses.replace(
        op, kind=OpKind.GEMV if m == 1 else OpKind.GEMM, shape={"m": m, "n": n, "k": k},
        flops=flops, attrs=attrs, bytes_read=nbytes(m * k, op.dtype) + w,
        bytes_written=nbytes(m * n, op.dtype) if written is None else written,
        weight_bytes=w, kv_bytes=op.kv_bytes if kv is None else kv)


def _divide(what: str, x: int, t: int, op: Op) -> int:
    if x % t:
        raise ConfigError(f"tensor parallelism {t} does not divide {what} {x} of op {op.name!r}",
                          key="parallelism.tensor")
    return x // t


def column(op: Op, t: int) -> Op:
    """Column-parallel shard (``n / t`` outputs) of a matmul."""
    m, n, k, bias = _mm(op)
    return _matmul(op, m, _divide("the output columns", n, t, op), k, bias)


def row(op: Op, t: int, rank: int) -> Op:
    """Row-parallel shard (``k / t`` inputs, full-size partial sums) of a matmul."""
    m, n, k, bias = _mm(op)
    k1 = _divide("the input columns", k, t, op)
    b = bias and rank == 0
    out = _matmul(op, m, n, k1, False, weight_elems=k1 * n + (n if b else 0))
    return dataclasses.replace(out, flops=out.flops + (m * n if b else 0))


def kv_heads_per_rank(num_heads: int, kv_heads: int, t: int, op_name: str) -> int:
    """KV heads each of ``t`` ranks holds (replicated when ``kv_heads < t``)."""
    if num_heads % t:
        raise ConfigError(f"tensor parallelism {t} does not divide the {num_heads} attention "
                          f"heads (op {op_name!r})", key="parallelism.tensor")
    if kv_heads % t == 0:
        return kv_heads // t
    if t % kv_heads == 0:
        return 1
    raise ConfigError(f"tensor parallelism {t} and the {kv_heads} KV heads do not divide one "
                      f"another (op {op_name!r})", key="parallelism.tensor")


def qkv(op: Op, heads: int, kv_heads: int, head_dim: int, t: int) -> Op:
    """Shard of the fused QKV projection: the rank's query heads and KV heads (replicated when
    ``kv_heads < t``); the new K and V go to the cache in the KV dtype."""
    m, n, k, bias = _mm(op)
    if n != (heads + 2 * kv_heads) * head_dim:
        raise ConfigError(f"op {op.name!r} has {n} output columns, not (heads + 2 kv heads) x "
                          f"head_dim = {(heads + 2 * kv_heads) * head_dim} of the model")
    h1, kv1 = heads // t, kv_heads_per_rank(heads, kv_heads, t, op.name)
    n1 = (h1 + 2 * kv1) * head_dim
    if op.kv_bytes:
        kv_new = nbytes(2 * m * kv1 * head_dim, op.kv_dtype or op.dtype)
        written = nbytes(m * h1 * head_dim, op.dtype) + kv_new
    else:
        kv_new, written = 0, None
    return _matmul(op, m, n1, k, bias, written, kv_new)


def attention_part(op: Op, batch: int, heads: int, kv_heads: int) -> Op:
    """The attention op (score or context) over ``batch`` sequences of ``heads`` query heads
    sharing ``kv_heads`` KV heads, recounted (its attributes kept: a tree mask, a KV re-read).
    A ragged op of a serving iteration (``attrs["segments"]``: ``(q_len, kv_len, sequences)``)
    is recounted segment by segment, so every sequence keeps its own context."""
    s = op.shape
    segs = op.attrs.get("segments")
    if segs:
        if batch != sum(n for _, _, n in segs):
            raise ConfigError(f"op {op.name!r} is a ragged batch of {sum(n for _, _, n in segs)}"
                              f" sequences; splitting it into {batch} (micro-batches, an "
                              "attention pool) is not modelled", key="parallelism")
        parts = [attention(op.id, op.name, op.kind, op.layer, n, heads, kv_heads, q, c,
                           int(s["head_dim"]), op.dtype, op.kv_dtype or op.dtype, op.deps)
                 for q, c, n in segs]
        return dataclasses.replace(
            op, shape=dict(s, heads=heads, kv_heads=kv_heads),
            flops=sum(p.flops for p in parts), bytes_read=sum(p.bytes_read for p in parts),
            bytes_written=sum(p.bytes_written for p in parts),
            kv_bytes=sum(p.kv_bytes for p in parts))
    return attention(op.id, op.name, op.kind, op.layer, batch, heads, kv_heads,
                     int(s["q_len"]), int(s["kv_len"]), int(s["head_dim"]), op.dtype,
                     op.kv_dtype or op.dtype, op.deps, op.attrs)


def share(op: Op, part: int, whole: int, key: str = "rows") -> Op:
    """``part / whole`` of an op's work along a dimension every count is proportional to (the
    batch of a micro-batch, heads of softmax, columns of RoPE and activations), weights whole
    (the embedding's gathered rows are proportional too). ``key``: the shape entry split, for
    element-wise ops."""
    if part == whole:
        return op
    if op.kind in MATMUL_KINDS:
        m, n, k, bias = _mm(op)
        if (m * part) % whole:
            raise ConfigError(f"{whole} does not divide the {m} rows of op {op.name!r}")
        m1 = m * part // whole
        extra = op.bytes_written - nbytes(m * n, op.dtype)
        written = None if not extra else nbytes(m1 * n, op.dtype) + extra * part // whole
        return _matmul(op, m1, n, k, bias, written, op.kv_bytes * part // whole)
    if op.kind in ATTENTION_KINDS:
        s = op.shape
        b = int(s["batch"])
        if (b * part) % whole:
            raise ConfigError(f"{whole} does not divide the batch {b} of op {op.name!r}")
        return attention_part(op, b * part // whole, int(s["heads"]), int(s["kv_heads"]))
    weights = op.weight_bytes if op.kind is not OpKind.EMBEDDING else 0
    shape = dict(op.shape)
    if key in shape:
        if (int(shape[key]) * part) % whole:
            raise ConfigError(f"{whole} does not divide {key} {shape[key]} of op {op.name!r}")
        shape[key] = int(shape[key]) * part // whole
    f = lambda x: x * part // whole  # noqa: E731  (exact: every term scales with the split)
    wb = f(op.weight_bytes) if op.kind is OpKind.EMBEDDING else op.weight_bytes
    return Op(op.id, op.name, op.kind, op.layer, shape, op.dtype, f(op.flops),
              f(op.bytes_read - weights) + weights, f(op.bytes_written), wb, f(op.kv_bytes),
              op.weight_dtype, op.kv_dtype, op.deps, op.measured_ns, op.measured_energy_j,
              op.attrs, op.devices, op.prior)


def split_cols(op: Op, t: int) -> Op:
    """An element-wise op on column-split activations (RoPE, the FFN activation)."""
    _divide("the columns", int(op.shape["cols"]), t, op)
    return share(op, 1, t, key="cols")


def vocab(op: Op, t: int, rank: int) -> Op:
    """Vocabulary-parallel shard of the LM head: rank ``rank``'s share of the ``n`` output
    columns (uneven when ``t`` does not divide the vocabulary, as Megatron would pad)."""
    m, n, k, bias = _mm(op)
    n1 = n // t + (rank < n % t)
    return _matmul(op, m, n1, k, bias)
