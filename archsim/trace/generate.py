"""Analytic AR-decoding traces generated from a workload.

The op sequence per decoder layer follows the reference implementation
(:mod:`archsim.reference`): norm, fused QKV projection (K and V written to the cache), RoPE
(Llama), attention score, softmax, attention context, output projection, residual add, norm,
FFN up (gate and up fused for gated FFNs), activation, FFN down, residual add. The prefill step
computes LM-head logits for the last position of each sequence only.

Workload features (:mod:`archsim.trace.formats`): decoder-layer matmuls store their weights in
the layer's format (per-layer dtype, group-wise scales, N:M sparsity); the LM head is dense at
``precision.weights``. With an ``attention_window`` (sink + local window, Λ-shaped attention)
each query attends to ``min(context, sink + window)`` keys: attention and softmax ops run
against that many tokens (attribute ``attention_window: "S+W"``), and only they stay cached.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..dtypes import nbytes
from .counting import attention, elementwise, embedding, matmul
from .schema import ATTENTION_KINDS, OpKind, Phase, Step, Trace

if TYPE_CHECKING:                  # archsim.workload imports the decoding transforms
    from ..workload import Workload


class OpList:
    """Ops of a pass built one after another, ids numbered from ``start``: ``add(make, ...)``
    calls a builder of :mod:`.counting` with the next id and returns that id."""

    def __init__(self, start: int = 0):
        self.start = start
        self.ops = []

    def add(self, make, *args, **kw):
        op = make(self.start + len(self.ops), *args, **kw)
        self.ops.append(op)
        return op.id


def step_ops(w: Workload, new_tokens: int, context_len: int) -> tuple:
    """Ops of one forward pass over ``new_tokens`` per sequence, ending at ``context_len``."""
    m = w.model
    B, T, C = w.batch_size, new_tokens, context_len
    M = B * T
    d, hd, H, KV, f = m.hidden_size, m.dim_head, m.num_heads, m.kv_heads, m.ffn_size
    act, wt, kvt = w.precision.activations, w.precision.weights, w.precision.kv_cache
    norm_fn = m.norm
    norm_params = d * (2 if norm_fn == "layernorm" else 1)
    o = OpList()
    E = OpKind.ELEMENTWISE
    Ca, win = _attended(w, C)
    # token embedding gather (+ learned positions)
    emb = o.add(embedding, M, d, act, wt, m.position == "learned")
    resid = emb
    for L in range(m.num_layers):
        n1 = o.add(elementwise, f"L{L}.norm1", OpKind.NORM, L, M, d, norm_fn, act, (resid,),
                   param_elements=norm_params, wdtype=wt, per_row_flops=1)
        qkv_n = (H + 2 * KV) * hd
        kv_new = nbytes(2 * M * KV * hd, kvt)
        fmt = w.weight_format(L)
        lw = fmt.dtype
        qkv = o.add(matmul, f"L{L}.qkv_proj", L, M, qkv_n, d, act, lw, (n1,), bias=m.bias,
                    extra_written=nbytes(M * H * hd, act) + kv_new, kv_dtype=kvt,
                    kv_written_bytes=kv_new, wfmt=fmt)
        prev = qkv
        if m.position == "rope":
            prev = o.add(elementwise, f"L{L}.rope", E, L, M, (H + KV) * hd, "rope", act, (qkv,))
        sc = o.add(attention, f"L{L}.attn_score", OpKind.ATTENTION_SCORE, L, B, H, KV, T, Ca, hd,
                   act, kvt, (prev,), win)
        sm = o.add(elementwise, f"L{L}.softmax", OpKind.SOFTMAX, L, B * H * T, Ca, "softmax", act,
                   (sc,))
        cx = o.add(attention, f"L{L}.attn_context", OpKind.ATTENTION_CONTEXT, L, B, H, KV, T, Ca,
                   hd, act, kvt, (sm, prev), win)
        op_ = o.add(matmul, f"L{L}.out_proj", L, M, d, H * hd, act, lw, (cx,), bias=m.bias,
                    wfmt=fmt)
        r1 = o.add(elementwise, f"L{L}.residual1", E, L, M, d, "add", act, (op_, resid), inputs=2)
        n2 = o.add(elementwise, f"L{L}.norm2", OpKind.NORM, L, M, d, norm_fn, act, (r1,),
                   param_elements=norm_params, wdtype=wt, per_row_flops=1)
        gated = m.ffn_kind == "gated"
        up = o.add(matmul, f"L{L}.ffn_up", L, M, f * (2 if gated else 1), d, act, lw, (n2,),
                   bias=m.bias, wfmt=fmt)
        a = o.add(elementwise, f"L{L}.act", OpKind.ACTIVATION, L, M, f, m.activation, act, (up,),
                  inputs=2 if gated else 1)
        dn = o.add(matmul, f"L{L}.ffn_down", L, M, d, f, act, lw, (a,), bias=m.bias, wfmt=fmt)
        resid = o.add(elementwise, f"L{L}.residual2", E, L, M, d, "add", act, (dn, r1), inputs=2)
    # final norm and LM head on the last position of each sequence
    fn_ = o.add(elementwise, "final_norm", OpKind.NORM, -1, B, d, norm_fn, act, (resid,),
                param_elements=norm_params, wdtype=wt, per_row_flops=1)
    head = o.add(matmul, "lm_head", -1, B, m.vocab_size, d, act, wt, (fn_,), bias=False,
                 wfmt=w.weight_format(-1))
    o.add(elementwise, "sample", E, -1, B, m.vocab_size, "argmax", act, (head,))
    return tuple(o.ops)


def _attended(w: Workload, C: int) -> tuple:
    """``(keys each query attends to, attention attributes)`` at context ``C``."""
    win = w.attention_window
    if win is None:
        return C, None
    return min(C, win.span), {"attention_window": f"{win.sink_tokens}+{win.window_tokens}"}


def _at_context(op, C: int, w: Workload):
    """The same attention or softmax op against a KV cache of ``C`` tokens."""
    sh = op.shape
    C, win = _attended(w, C)
    if op.kind is OpKind.SOFTMAX:
        return elementwise(op.id, op.name, op.kind, op.layer, sh["rows"], C, "softmax", op.dtype,
                           op.deps)
    return attention(op.id, op.name, op.kind, op.layer, sh["batch"], sh["heads"], sh["kv_heads"],
                     sh["q_len"], C, sh["head_dim"], op.dtype, op.kv_dtype, op.deps, win)


def generate_trace(w: Workload) -> Trace:
    """See :func:`build_trace`; built with the cyclic garbage collector paused
    (:mod:`archsim.gcpause`)."""
    from ..gcpause import paused
    with paused():
        return build_trace(w)


def build_trace(w: Workload) -> Trace:
    """The analytic trace of ``w``: the prefill step, then ``generate_tokens - 1`` decode steps.

    Decode steps differ only in the context length, so they share every op object but the
    attention and softmax ops, which are rebuilt for each context length (a test checks this
    equals building each step from scratch).
    """
    P = w.prompt_tokens
    steps = [Step(0, Phase.PREFILL, w.batch_size, P, P, step_ops(w, P, P))]
    if w.generate_tokens > 1:
        first = step_ops(w, 1, P + 1)
        ctx = [i for i, op in enumerate(first)
               if op.kind in ATTENTION_KINDS or op.kind is OpKind.SOFTMAX]
        steps.append(Step(1, Phase.DECODE, w.batch_size, 1, P + 1, first))
        for i in range(2, w.generate_tokens):
            C = P + i
            ops = list(first)
            for j in ctx:
                ops[j] = _at_context(first[j], C, w)
            steps.append(Step(i, Phase.DECODE, w.batch_size, 1, C, tuple(ops)))
    return Trace(tuple(steps), w.to_dict(), source="analytic",
                 meta={"generator": "archsim.trace.generate"})
