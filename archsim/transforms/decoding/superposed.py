"""Superposed decoding, as a trace transform.

Shen et al., "Superposed Decoding: Multiple Generations from a Single Autoregressive Inference
Pass", NeurIPS 2024. ``k`` drafts of each sequence share every forward pass: its input is the
weighted sum of the drafts' last-token embeddings, so the pass itself is that of one sequence;
its output distribution is expanded to ``k`` tokens (top-k), one per draft.

In the trace, the embedding op of each decode step gathers ``k`` rows per sequence and sums
them with the drafts' weights (``2k - 1`` FLOPs per element, one output row per sequence);
every other op is the plain pass's. Each step, prefill included, yields one token per draft:
``Step.batch`` and ``tokens_out`` count ``batch x k`` generations, so TPOT is per generation.
Not counted: the n-gram models that re-rank the ``k x k`` candidates (a CPU lookup in the paper).
"""
from __future__ import annotations

import dataclasses

from ...dtypes import nbytes
from ...trace.schema import OpKind, Trace


def superposed_embedding(op, w, k: int):
    """The embedding op ``op`` gathering ``k`` rows per sequence and superposing them."""
    d = w.model.hidden_size
    act, wt = w.precision.activations, w.precision.weights
    learned = w.model.position == "learned"
    rows = op.shape["rows"]                       # B tokens (one per sequence)
    gathered = nbytes(k * rows * d, wt) + (nbytes(rows * d, wt) if learned else 0)
    flops = (2 * k - 1) * rows * d + (rows * d if learned else 0)
    return dataclasses.replace(op, flops=flops, bytes_read=gathered, weight_bytes=gathered,
                               bytes_written=nbytes(rows * d, act),
                               attrs={**op.attrs, "fn": "superpose", "drafts": k})


def superposed_trace(trace: Trace, w) -> Trace:
    """The superposed-decoding trace of workload ``w`` (``decoding.superposed`` set)."""
    k, B = w.decoding.superposed.drafts, w.batch_size
    done: dict = {}
    steps = []
    for st in trace.steps:
        ops = list(st.ops)
        if st.phase.value != "prefill":
            e = ops[0]
            if e.kind is not OpKind.EMBEDDING:
                raise ValueError("the analytic trace starts each step with its embedding")
            hit = done.get(id(e))
            if hit is None or hit[0] is not e:
                hit = done[id(e)] = (e, superposed_embedding(e, w, k))
            ops[0] = hit[1]
        first = B * k if st.phase.value == "prefill" else 0
        steps.append(dataclasses.replace(st, batch=B * k, ops=tuple(ops), tokens_out=B * k,
                                         first_tokens=first))
    meta = dict(trace.meta)
    meta["decoding"] = {"strategy": "superposed", "drafts": k}
    return dataclasses.replace(trace, steps=tuple(steps), meta=meta)
