"""Speculative decoding with a draft model, as a trace transform.

Leviathan, Kalman and Matias, "Fast Inference from Transformers via Speculative Decoding",
ICML 2023; Chen et al., "Accelerating Large Language Model Decoding with Speculative Sampling",
arXiv:2302.01318, 2023.

The prefill step runs the target's prefill and the draft model's (independent passes; the
draft's fills its KV cache and samples nothing). Each
following step is one draft-then-verify round, a chain of passes:

* ``k`` draft passes of one token each (ops named ``draft.*``, so placement rules can put the
  draft on another device), the ``j``-th against ``P + j`` cached tokens, where ``P`` is the
  sequence length so far (prompt plus tokens yielded; the last yielded token is not cached
  yet);
* one target pass over ``k + 1`` positions (that last token and the ``k`` drafts) against
  ``P + k`` cached tokens, with logits at all ``k + 1`` positions.

The round yields ``a_r`` tokens per sequence, the expected tokens per verification
``E = 1 + sum_i prod_{j<=i} p_j`` on average (Leviathan et al., eq. 1 for a constant alpha):
round ``r`` yields ``floor((r+1) E) - floor(r E)`` (:func:`.passes.accepted_schedule`), so the
trace is deterministic and its mean tokens per round is ``E`` up to the last, capped round.
Rejected drafts' KV entries are dropped: the next round starts at ``P + a_r``. Draft passes
after the first carry ``attrs: {kv_reread: true}``: they read the cache the first one read, so
memory checks count it once.
"""
from __future__ import annotations

import dataclasses

from ...trace.schema import Phase, Step, Trace
from .passes import ForwardPass, accepted_schedule


def speculative_trace(trace: Trace, w) -> Trace:
    """The speculative-decoding trace of workload ``w`` (whose ``decoding.speculative`` is
    set); ``trace`` is its greedy analytic trace (its prefill step is kept)."""
    s = w.decoding.speculative
    k, B = s.k, w.batch_size
    wd = dataclasses.replace(w, model=s.draft_model)
    draft = ForwardPass(wd, 1, prefix="draft.")
    # passes after the first read the same draft KV cache: memory is counted once
    reread = ForwardPass(wd, 1, prefix="draft.", attention_attrs={"kv_reread": True})
    verify = ForwardPass(w, k + 1, all_positions=True)
    draft_prefill = ForwardPass(wd, w.prompt_tokens, prefix="draft.")
    pre = trace.steps[0]
    n_t = len(pre.ops)
    # the draft's prefill only fills its KV cache: the target samples the first token
    tail = {"draft.final_norm", "draft.lm_head", "draft.sample"}
    steps = [dataclasses.replace(pre, ops=pre.ops + tuple(
        op for op in draft_prefill.ops(w.prompt_tokens, offset=n_t) if op.name not in tail))]
    P = w.prompt_tokens + 1
    nd = len(draft)
    for r, a in enumerate(accepted_schedule(s.expected_tokens(), w.generate_tokens - 1)):
        ops = []
        for j in range(k):
            ops += (reread if j else draft).ops(P + j, offset=j * nd,
                                                after=j * nd - 1 if j else None)
        ops += verify.ops(P + k, offset=k * nd, after=k * nd - 1)
        steps.append(Step(r + 1, Phase.DECODE, B, k + 1, P + k, tuple(ops), tokens_out=B * a))
        P += a
    meta = dict(trace.meta)
    meta["decoding"] = {"strategy": "speculative", "k": k,
                        "expected_tokens": s.expected_tokens()}
    return dataclasses.replace(trace, steps=tuple(steps), meta=meta)
