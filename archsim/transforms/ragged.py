"""A serving iteration's ragged attention laid onto an attention pool, and its batch cut into
micro-batches.

A continuous-batching iteration (:func:`archsim.serving.step_model.composition_step`) carries
each layer's attention score, softmax and context as one ragged op whose
``attrs["segments"]`` are ``((q_len, kv_len, sequences), ...)``. An attention pool divides the
(sequence, KV head) pairs of a micro-batch evenly over its units (:mod:`.parallel`); here the
pairs are ordered KV head first (pair ``p`` is KV head ``p // B`` of sequence ``p % B``, the
sequences in segment order), which is the order in which the tensor ranks own them (rank ``k``
makes KV heads ``[k KV / t, (k + 1) KV / t)`` of every sequence). A unit's share is recounted
exactly from the pairs it holds: each pair is one sequence's ``G = H / KV`` query heads against
one KV head, at that sequence's own ``(q_len, kv_len)``. When the pool's size divides the KV
heads, every unit holds the same heads of every sequence and the split is balanced whatever the
contexts.

Micro-batches (Lamina's staggered pipelining) cut an iteration by sequences:
:func:`micro_batches` assigns them so that every micro-batch has work of the same kind
(sampling or not) and about the same number of tokens.
"""
from __future__ import annotations

import dataclasses
from collections import Counter

from ..trace.counting import attention, elementwise
from ..trace.schema import ATTENTION_KINDS, Op, OpKind


def is_ragged(op: Op) -> bool:
    """Whether ``op`` is a serving iteration's ragged attention or softmax op."""
    return bool(op.attrs) and "segments" in op.attrs


def _sequences(segments) -> list:
    """The ``(q_len, kv_len)`` of every sequence of ``segments``, in segment order."""
    return [(q, c) for q, c, n in segments for _ in range(n)]


def pair_segments(segments, kv_heads: int, lo: int, hi: int) -> tuple:
    """``((q_len, kv_len, pairs), ...)`` of pairs ``[lo, hi)`` (KV head first, see module
    docstring) of the ragged batch ``segments`` with ``kv_heads`` KV heads per sequence."""
    seqs = _sequences(segments)
    B = len(seqs)
    if not 0 <= lo <= hi <= B * kv_heads:
        raise ValueError(f"pairs [{lo}, {hi}) of {B * kv_heads}")
    got: Counter = Counter()
    for h in range(lo // B, (hi + B - 1) // B):
        a, b = max(lo - h * B, 0), min(hi - h * B, B)
        got.update(seqs[a:b])
    return tuple(sorted((q, c, n) for (q, c), n in got.items()))


def pair_tokens(segments, kv_heads: int, lo: int, hi: int) -> int:
    """Query tokens summed over pairs ``[lo, hi)``: what the pairs' Q, K and V and attention
    output carry per head."""
    return sum(q * n for q, _, n in pair_segments(segments, kv_heads, lo, hi))


def pool_part(op: Op, lo: int, hi: int, kv_heads: int, group: int) -> Op:
    """Pairs ``[lo, hi)`` of ragged op ``op`` (score, softmax or context of one layer, over all
    of a micro-batch's ``kv_heads`` KV heads) on one pool unit: every pair's ``group`` query
    heads against its one KV head, recounted per pair segment (``attrs["segments"]`` then
    counts pairs, each of ``group`` heads and one KV head)."""
    key = (op.kind, op.attrs["segments"], lo, hi, kv_heads, group, op.shape.get("head_dim"),
           op.dtype, op.kv_dtype)
    hit = _POOL_PARTS.get(key)
    if hit is None:
        if len(_POOL_PARTS) > 4096:
            _POOL_PARTS.clear()
        hit = _POOL_PARTS[key] = _pool_counts(op, lo, hi, kv_heads, group)
    shape, segs, flops, read, written, kv = hit
    return dataclasses.replace(op, shape=shape, attrs={**op.attrs, "segments": segs},
                               flops=flops, bytes_read=read, bytes_written=written, kv_bytes=kv)


#: counts of a pool unit's share by what they depend on (every layer of an iteration shares them)
_POOL_PARTS: dict = {}


def _pool_counts(op: Op, lo: int, hi: int, kv_heads: int, group: int) -> tuple:
    """``(shape, pair segments, flops, bytes read, bytes written, kv bytes)`` of
    :func:`pool_part`."""
    segs = pair_segments(op.attrs["segments"], kv_heads, lo, hi)
    s = op.shape
    if op.kind in ATTENTION_KINDS:
        parts = [attention(op.id, op.name, op.kind, op.layer, n, group, 1, q, c,
                           int(s["head_dim"]), op.dtype, op.kv_dtype or op.dtype, op.deps)
                 for q, c, n in segs]
        shape = dict(s, batch=hi - lo, heads=group, kv_heads=1,
                     q_len=max(q for q, _, _ in segs), kv_len=max(c for _, c, _ in segs))
    elif op.kind is OpKind.SOFTMAX:
        parts = [elementwise(op.id, op.name, op.kind, op.layer, q * group * n, c, "softmax",
                             op.dtype, op.deps) for q, c, n in segs]
        shape = {"rows": sum(q * group * n for q, _, n in segs),
                 "cols": max(c for _, c, _ in segs)}
    else:
        raise ValueError(f"op {op.name!r} ({op.kind.value}) is not attention")
    return (shape, segs, sum(p.flops for p in parts), sum(p.bytes_read for p in parts),
            sum(p.bytes_written for p in parts), sum(p.kv_bytes for p in parts))


def micro_batches(seqs, sampling: int, parts: int) -> list:
    """``seqs`` (``(q, kv)`` per sequence, of which the first ``sampling`` sample a token) cut
    into at most ``parts`` micro-batches, as lists of indices into ``seqs``.

    Every micro-batch gets at least one sequence and, when any samples, at least one sampling
    sequence, so all have the same ops (with fewer sequences than ``parts``, fewer
    micro-batches). Within each kind (sampling first, then the rest, most tokens first, then
    longest context), a sequence
    goes to the micro-batch with the fewest tokens so far, the lowest index on ties: a batch of
    equal sequences is cut in equal halves, as ``archsim run`` cuts it.
    """
    n = min(parts, sampling) if sampling else min(parts, len(seqs))
    n = max(n, 1)
    out = [[] for _ in range(n)]
    tokens = [0] * n
    for group in (range(sampling), range(sampling, len(seqs))):
        for i in sorted(group, key=lambda i: (-seqs[i][0], -seqs[i][1], i)):
            j = min(range(n), key=lambda j: (tokens[j], len(out[j]), j))
            out[j].append(i)
            tokens[j] += seqs[i][0]
    return out


def covering_micro_batches(tokens, required, parts: int) -> list:
    """Sequences (``tokens[i]`` query tokens each) cut into at most ``parts`` micro-batches,
    as lists of indices, each holding at least one member of every set in ``required`` that
    has members (so every micro-batch runs the same passes: a decoding strategy's draft passes
    need decoding sequences, its draft prefill prompt chunks); fewer micro-batches when a set
    has fewer members. The sets are covered in order, each micro-batch lacking a member taking
    the unplaced member with the most tokens (the micro-batch with the fewest tokens first);
    the other sequences go, most tokens first, to the micro-batch with the fewest tokens."""
    sets = [s for s in required if s]
    n = max(1, min([parts, len(tokens)] + [len(s) for s in sets]))
    out = [[] for _ in range(n)]
    load = [0] * n
    placed: set = set()

    def put(i, j):
        out[j].append(i)
        load[j] += tokens[i]
        placed.add(i)

    by_size = sorted(range(len(tokens)), key=lambda i: (-tokens[i], i))
    for s in sets:
        lacking = sorted((j for j in range(n) if not s.intersection(out[j])),
                         key=lambda j: (load[j], j))
        free = [i for i in by_size if i in s and i not in placed]
        for j, i in zip(lacking, free):
            put(i, j)
    for i in by_size:
        if i not in placed:
            put(i, min(range(n), key=lambda j: (load[j], len(out[j]), j)))
    return [sorted(g) for g in out]
