"""Iteration times under a decoding strategy: greedy, speculative or Medusa decoding served
with continuous batching.

A decoding sequence of an iteration processes ``q`` tokens per pass (1 greedy; ``k + 1`` for a
speculative verification; ``tree_tokens`` for a Medusa tree) against its ``ctx`` cached tokens
plus those, with logits at every one; it yields, per request, the tokens of its ``r``-th round,
``floor((r + 1) E) - floor(r E)`` for the strategy's mean ``E`` (as the decoding transforms of
:mod:`archsim.transforms.decoding`), and keeps only their KV entries.

On top of the target's pass (:class:`~.step_model.StepModel`):

* speculative: ``k`` draft passes over the decoding sequences (pass ``j`` against ``ctx + 1 +
  j`` tokens) and a draft prefill pass over the iteration's prompt chunks, each a ragged batch
  priced by a :class:`StepModel` of the draft model, one after another on the device;
* Medusa: the heads on every tree position of the decoding sequences and on the last position
  of sequences whose prompt completes (:func:`archsim.transforms.decoding.medusa.medusa_heads`).

On one device the passes add up. On a design point of several devices or with a
parallelism plan, each distinct iteration is one step of chained passes
(:mod:`.strategy_step`) run through the engine with the plan applied, memoized; with the
plan's micro-batches, its sequences are cut so that every micro-batch has decoding sequences
(and, for a speculative draft's prefill, prompt chunks) when the iteration has any
(:func:`archsim.transforms.ragged.covering_micro_batches`), and each micro-batch's passes are
chained as above.
"""
from __future__ import annotations

import dataclasses

from ..errors import ConfigError
from ..trace.generate import step_ops
from .step_model import StepModel


class IterationModel:
    """Times of iterations of workload ``w`` on design point ``hw`` under ``w``'s decoding
    strategy (see module docstring)."""

    def __init__(self, hw, w) -> None:
        from ..transforms.decoding.spec import Decoding
        dec = w.decoding
        if dec.skip_decode is not None or dec.kv_compression is not None \
                or dec.strategy == "superposed":
            raise ConfigError("serving models greedy, speculative and Medusa decoding; not "
                              "skip_decode, kv_compression or superposed decoding",
                              key="decoding")
        self.w, self.strategy = w, dec.strategy
        self.target = StepModel(hw, dataclasses.replace(w, decoding=Decoding()))
        self.calls = 0
        self.q, self.mean = 1, 1.0
        if self.strategy == "greedy":
            return
        # several devices or a plan: each iteration's chained passes through the engine
        self.joint = not self.target.additive
        if self.joint:
            from ..transforms.decoding import check_design_point
            check_design_point(w, hw)
            self.hw, self._record = hw, w.to_dict()
        if self.strategy == "speculative":
            s = dec.speculative
            self.q, self.mean, self.k = s.k + 1, s.expected_tokens(), s.k
            if not self.joint:
                self.draft = StepModel(hw, dataclasses.replace(w, model=s.draft_model,
                                                               decoding=Decoding()))
        else:
            m = dec.medusa
            self.q, self.mean = m.tree_tokens, m.accepted_tokens
            self._heads: dict = {}

    def time_ps(self, dec_ctx, chunks, completing: int) -> int:
        """One iteration: decoding sequences with ``dec_ctx`` cached tokens each, prompt
        ``chunks`` as ``(tokens, kv after)``, of which ``completing`` finish their prompt."""
        self.calls += 1
        q = self.q
        if self.strategy != "greedy" and self.joint:
            from .step_model import segments_of
            key = ("strategy", tuple(sorted(dec_ctx)), segments_of(chunks[:completing]),
                   segments_of(chunks[completing:]))
            return self.target.step_ps(key, lambda: self._joint_trace(dec_ctx, chunks,
                                                                      completing))
        seqs = [(q, c + q) for c in dec_ctx] + list(chunks)
        t = self.target.time_ps(seqs, q * len(dec_ctx) + completing)
        if self.strategy == "speculative":
            n = len(dec_ctx)
            if n:
                for j in range(self.k):
                    t += self.draft.time_ps([(1, c + 1 + j) for c in dec_ctx], n)
            if chunks:
                t += self.draft.time_ps(list(chunks), 0)
        elif self.strategy == "medusa":
            t += self.heads_ps(q * len(dec_ctx) + completing)
        return t

    def _joint_trace(self, dec_ctx, chunks, completing: int):
        """The one-step trace of the iteration's chained passes, the plan applied (the
        sequences cut into the plan's micro-batches, see module docstring)."""
        from ..trace.schema import Trace
        from .strategy_step import strategy_step
        pl = self.hw.parallelism
        if pl is None or pl.micro_batches == 1:
            t = Trace((strategy_step(self.w, dec_ctx, chunks, completing),), self._record)
            if self.target.plan:
                from ..transforms import apply_transforms
                t = apply_transforms(t, self.target.plan, self.hw)
            return t
        from ..transforms.parallel import plan_micro_batches
        from ..transforms.ragged import covering_micro_batches
        n, q = len(dec_ctx), self.q
        tokens = [q] * n + [c for c, _ in chunks]
        decodes, done = set(range(n)), set(range(n, n + completing))
        required = [decodes, decodes | done]
        if self.strategy == "speculative":
            required.append(set(range(n, len(tokens))))       # the draft's prefill pass
        parts = []
        for g in covering_micro_batches(tokens, required, pl.micro_batches):
            parts.append(strategy_step(self.w, [dec_ctx[i] for i in g if i < n],
                                       [chunks[i - n] for i in g if i >= n],
                                       sum(1 for i in g if i in done)))
        return plan_micro_batches(pl, parts, self.hw, self._record)

    def heads_ps(self, rows: int) -> int:
        """Medusa heads on ``rows`` positions, memoized per ``rows`` (counted with the
        target's actions)."""
        if not rows:
            return 0
        hit = self._heads.get(rows)
        if hit is None:
            from ..transforms.decoding.medusa import medusa_heads
            w1 = dataclasses.replace(self.w, batch_size=1,
                                     model=dataclasses.replace(self.w.model, num_layers=1))
            base = list(step_ops(w1, 1, 1))
            hit = self._heads[rows] = self.target._costs(medusa_heads(self.w, rows, base), 1)
        return self.target._add(hit)

    def priced(self, makespan_ps: int, replicas: int = 1):
        """Energy and cost of every iteration priced (:meth:`StepModel.priced`), the draft's
        passes included."""
        if self.strategy == "speculative" and not self.joint:
            for k, v in self.draft.counts.items():
                self.target.counts[k] = self.target.counts.get(k, 0) + v
            self.draft.counts = {}
        return self.target.priced(makespan_ps, replicas)
