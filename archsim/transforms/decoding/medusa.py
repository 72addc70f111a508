"""Medusa tree decoding, as a trace transform.

Cai et al., "Medusa: Simple LLM Inference Acceleration Framework with Multiple Decoding Heads",
ICML 2024.

Every decode step is one target pass over ``tree_tokens`` query positions per sequence (the last
yielded token and the candidate tree the heads proposed), with tree attention against
``P - 1 + tree_tokens`` cached tokens (``P``: sequence length so far). Attention is counted as
the dense ``q_len x kv_len`` block a non-fused kernel computes (the tree mask removes no work;
the ops carry ``attrs: {mask: tree}``); logits are computed at every tree position. Then each
head runs on every tree position, as the reference implementation computes them: ``head_layers``
residual blocks (``d x d`` linear with bias, SiLU, residual add) and its own ``d x vocab``
linear, then a top-k pass over its logits (counted as one compare per logit). The prefill runs
the heads on the last position of each sequence, to propose the first tree. With
``medusa.heads_kind: hydra`` the heads are Hydra's sequentially dependent ones (:mod:`.hydra`).

A step yields ``accepted_tokens`` per sequence on average, scheduled as in
:func:`.passes.accepted_schedule`. Rejected candidates' KV entries are dropped.
"""
from __future__ import annotations

import dataclasses

from ...trace.counting import elementwise, matmul
from ...trace.generate import OpList
from ...trace.schema import OpKind, Phase, Step, Trace
from .passes import ForwardPass, accepted_schedule

TREE = {"mask": "tree"}


def medusa_heads(w, rows: int, base: list) -> list:
    """Ops of every Medusa head on ``rows`` positions, after the final norm of ``base``."""
    md, m = w.decoding.medusa, w.model
    if md.heads_kind == "hydra":
        from .hydra import hydra_heads
        return hydra_heads(w, rows, base)
    act, wt, d = w.precision.activations, w.precision.weights, m.hidden_size
    src = next(op.id for op in base if op.name == "final_norm")
    o = OpList(start=len(base))
    for h in range(md.heads):
        x = src
        for L in range(md.head_layers):
            x = residual_block(o, h, L, x, rows, d, act, wt)
        head_output(o, h, x, rows, m.vocab_size, d, act, wt, bias=False)
    return o.ops


def residual_block(o, h: int, L: int, x: int, rows: int, d: int, act: str, wt: str) -> int:
    """Block ``L`` of head ``h``: ``x + SiLU(W x + b)`` on ``rows`` positions (Medusa's
    ResBlock); returns the id of its output."""
    fc = o.add(matmul, f"medusa.h{h}.fc{L}", -1, rows, d, d, act, wt, (x,), bias=True)
    a = o.add(elementwise, f"medusa.h{h}.act{L}", OpKind.ACTIVATION, -1, rows, d, "silu", act,
              (fc,))
    return o.add(elementwise, f"medusa.h{h}.residual{L}", OpKind.ELEMENTWISE, -1, rows, d,
                 "add", act, (a, x), inputs=2)


def head_output(o, h: int, x: int, rows: int, vocab: int, d: int, act: str, wt: str, *,
                bias: bool) -> int:
    """Head ``h``'s ``d x vocab`` output layer and its top-k; returns the top-k's id."""
    lm = o.add(matmul, f"medusa.h{h}.lm_head", -1, rows, vocab, d, act, wt, (x,), bias=bias)
    return o.add(elementwise, f"medusa.h{h}.topk", OpKind.ELEMENTWISE, -1, rows, vocab,
                 "argmax", act, (lm,))


def medusa_trace(trace: Trace, w) -> Trace:
    """The Medusa trace of workload ``w`` (whose ``decoding.medusa`` is set); ``trace`` is its
    greedy analytic trace."""
    md, B = w.decoding.medusa, w.batch_size
    T = md.tree_tokens
    pre = trace.steps[0]
    steps = [dataclasses.replace(pre, ops=pre.ops + tuple(medusa_heads(w, B, list(pre.ops))))]
    tree = ForwardPass(w, T, all_positions=True, attention_attrs=TREE,
                       extra=lambda base: medusa_heads(w, B * T, base))
    P = w.prompt_tokens + 1
    for r, a in enumerate(accepted_schedule(md.accepted_tokens, w.generate_tokens - 1)):
        steps.append(Step(r + 1, Phase.DECODE, B, T, P - 1 + T, tuple(tree.ops(P - 1 + T)),
                          tokens_out=B * a))
        P += a
    meta = dict(trace.meta)
    meta["decoding"] = {"strategy": "medusa", "tree_tokens": T, "heads": md.heads,
                        "accepted_tokens": md.accepted_tokens}
    if md.heads_kind != "medusa":
        meta["decoding"]["heads_kind"] = md.heads_kind
    return dataclasses.replace(trace, steps=tuple(steps), meta=meta)
