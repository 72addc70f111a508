"""Forward passes as op lists, for decoding strategies that put several passes in one step.

A decoding strategy's step is a DAG of whole forward passes (draft passes, a verification
pass, Medusa heads); :class:`ForwardPass` builds one from the analytic generator
(:func:`archsim.trace.generate.step_ops`, so counts are those of a plain trace), renamed,
shifted to an op-id offset and chained after an earlier op. Only the attention and softmax ops
depend on the context length; the others are built once and shared between steps, as the
analytic generator does, so op costs are memoized by identity.
"""
from __future__ import annotations

import dataclasses

from ...trace.counting import elementwise, matmul
from ...trace.generate import _at_context as _gen_at_context
from ...trace.generate import step_ops
from ...trace.schema import ATTENTION_KINDS, OpKind


def _context_dependent(op) -> bool:
    return op.kind in ATTENTION_KINDS or op.kind is OpKind.SOFTMAX


def at_context(op, C: int, w):
    """``op`` (an attention or softmax op) against a KV cache of ``C`` tokens, as the analytic
    generator builds it for workload ``w`` (a sink + window attention attends to at most its
    span), the op's own attributes (tree mask, KV re-read) kept."""
    new = _gen_at_context(op, C, w)
    if op.attrs and {**new.attrs, **op.attrs} != new.attrs:
        new = dataclasses.replace(new, attrs={**new.attrs, **op.attrs})
    return new


def all_position_logits(ops, w, T: int) -> list:
    """``ops`` with the final norm, LM head and sampling on all ``B * T`` positions instead of
    the last one per sequence (a verification pass needs the target's distribution at every
    drafted position)."""
    B, m, act, wt = w.batch_size, w.model, w.precision.activations, w.precision.weights
    norm_params = m.hidden_size * (2 if m.norm == "layernorm" else 1)
    out = list(ops)
    for i, op in enumerate(out):
        if op.name == "final_norm":
            out[i] = elementwise(op.id, op.name, op.kind, -1, B * T, m.hidden_size, m.norm, act,
                                 op.deps, param_elements=norm_params, wdtype=wt,
                                 per_row_flops=1)
        elif op.name == "lm_head":
            out[i] = matmul(op.id, op.name, -1, B * T, m.vocab_size, m.hidden_size, act, wt,
                            op.deps, bias=False)
        elif op.name == "sample":
            out[i] = elementwise(op.id, op.name, op.kind, -1, B * T, m.vocab_size, "argmax",
                                 act, op.deps)
    return out


class ForwardPass:
    """One forward pass of workload ``w``'s model over ``T`` tokens per sequence.

    Parameters
    ----------
    w : Workload
        Model, batch and precision.
    T : int
        Tokens per sequence the pass processes (query positions).
    prefix : str
        Prepended to every op name (``"draft."``), so placement rules can match the pass.
    all_positions : bool
        Logits at every position (:func:`all_position_logits`).
    attention_attrs : dict
        Attributes put on the attention and softmax ops (``{"mask": "tree"}``).
    """

    def __init__(self, w, T: int, *, prefix: str = "", all_positions: bool = False,
                 attention_attrs: dict | None = None, extra=None) -> None:
        base = list(step_ops(w, T, T))
        if all_positions:
            base = all_position_logits(base, w, T)
        if extra is not None:
            base = base + list(extra(base))
        attrs = dict(attention_attrs or {})
        out = []
        for op in base:
            changes = {}
            if prefix:
                changes["name"] = prefix + op.name
            if attrs and _context_dependent(op):
                changes["attrs"] = {**op.attrs, **attrs}
            out.append(dataclasses.replace(op, **changes) if changes else op)
        self.w = w
        self.template = tuple(out)
        self.ctx = [i for i, op in enumerate(out) if _context_dependent(op)]
        self._placed: dict = {}

    def __len__(self) -> int:
        return len(self.template)

    def ops(self, C: int, offset: int = 0, after: int | None = None) -> list:
        """The pass against ``C`` cached tokens (its own included), its ids shifted by
        ``offset``, its first op depending on op ``after`` of the same step."""
        key = (offset, after)
        placed = self._placed.get(key)
        if placed is None:
            placed = []
            for op in self.template:
                deps = tuple(d + offset for d in op.deps)
                if op.id == 0 and after is not None:
                    deps = deps + (after,)
                placed.append(dataclasses.replace(op, id=op.id + offset, deps=deps)
                              if offset or deps != op.deps else op)
            self._placed[key] = placed
        ops = list(placed)
        for j in self.ctx:
            ops[j] = at_context(placed[j], C, self.w)
        return ops


def round_tokens(r: int, mean: float) -> int:
    """Tokens per sequence that step (round) ``r`` (0-based) of a strategy yielding ``mean``
    per step on average yields: ``floor((r + 1) mean) - floor(r mean)``, at least 1."""
    import math
    return max(1, math.floor((r + 1) * mean + 1e-9) - math.floor(r * mean + 1e-9))


def accepted_schedule(mean: float, tokens: int) -> list:
    """Tokens yielded per sequence by each step until ``tokens`` are out, ``mean`` per step on
    average (:func:`round_tokens`, so every ``n`` steps yield ``floor(n mean)``), the last step
    capped at what is left."""
    out, done, r = [], 0, 0
    while done < tokens:
        a = min(round_tokens(r, mean), tokens - done)
        out.append(a)
        done += a
        r += 1
    return out
