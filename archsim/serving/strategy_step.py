"""One continuous-batching iteration of speculative or Medusa decoding as a single trace step,
for design points where passes do not simply add up (several devices, a parallelism plan).

The step chains, each pass after the previous one (its first op depends on the previous
pass's last op, as :class:`archsim.transforms.decoding.passes.ForwardPass` chains passes):

* speculative: the draft's ``k`` passes over the decoding sequences (pass ``j`` against
  ``ctx + 1 + j`` tokens, ops named ``draft.*``), the target's pass (``k + 1`` positions per
  decoding sequence with logits at each, and the prompt chunks), then the draft's prefill pass
  over the prompt chunks (no logits: it only fills the draft's KV cache);
* Medusa: the target's pass (the tree per decoding sequence, and the prompt chunks), then
  every head on each sampled position (:func:`archsim.transforms.decoding.medusa.medusa_heads`).

Each pass is a ragged batch (:func:`.step_model.composition_step`), so a plan splits it as it
splits any iteration: the draft sharded like the target on the tensor ranks and kept there with
an attention pool, the target's verification or tree attention on the pool
(:mod:`archsim.transforms.decoding.plan_roles`). The passes are the ones
:class:`.strategy.IterationModel` adds up on one device.
"""
from __future__ import annotations

import dataclasses

from ..trace.schema import Phase, Step
from .step_model import composition_step

_TAIL = {"final_norm", "lm_head", "sample"}


def _chain(parts) -> list:
    """Ops of ``parts`` (``(prefix, ops)``) renumbered one after another, each part's first op
    depending on the previous part's last op, names prefixed."""
    out: list = []
    for prefix, ops in parts:
        off = len(out)
        for op in ops:
            deps = tuple(d + off for d in op.deps)
            if op.id == 0 and off:
                deps += (off - 1,)
            out.append(dataclasses.replace(op, id=op.id + off, deps=deps,
                                           name=prefix + op.name if prefix else op.name))
    return out


def strategy_step(w, dec_ctx, chunks, completing: int) -> Step:
    """The iteration of workload ``w`` (speculative or Medusa decoding): decoding sequences
    with ``dec_ctx`` cached tokens each, prompt ``chunks`` as ``(tokens, kv after)`` (those that
    complete their prompt first), ``completing`` of which finish their prompt."""
    from ..transforms.decoding.spec import Decoding
    dec = w.decoding
    n = len(dec_ctx)
    target = dataclasses.replace(w, decoding=Decoding())
    if dec.strategy == "speculative":
        k, q = dec.speculative.k, dec.speculative.k + 1
        wd = dataclasses.replace(w, model=dec.speculative.draft_model, decoding=Decoding())
    else:
        q = dec.medusa.tree_tokens
    seqs = [(q, c + q) for c in dec_ctx] + list(chunks)
    rows = q * n + completing
    main = composition_step(target, seqs, rows)
    parts = []
    if dec.strategy == "speculative":
        if n:
            parts += [("draft.", composition_step(wd, [(1, c + 1 + j) for c in dec_ctx], n).ops)
                      for j in range(k)]
        parts.append(("", main.ops))
        if chunks:
            pre = composition_step(wd, list(chunks), 0).ops      # no logits: KV only
            parts.append(("draft.", tuple(op for op in pre if op.name not in _TAIL)))
    else:
        ops = list(main.ops)
        if rows:
            from ..transforms.decoding.medusa import medusa_heads
            ops += medusa_heads(w, rows, ops)
        parts.append(("", tuple(ops)))
    phase = Phase.DECODE if not chunks else (Phase.PREFILL if not n else Phase.MIXED)
    return Step(0, phase, len(seqs), max(q for q, _ in seqs), max(c for _, c in seqs),
                tuple(_chain(parts)), tokens_out=rows, first_tokens=0)
