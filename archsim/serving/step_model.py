"""Time of one continuous-batching iteration, from the design point's device models.

An iteration of an iteration-level scheduler (Orca, vLLM) runs one forward pass over a ragged
batch: some sequences decode one token against their KV cache, some prefill a chunk of their
prompt. Its composition is the list of ``(q, kv)`` per sequence (tokens processed, KV length
after the step) and the number of sequences that sample a token.

:func:`composition_step` builds that pass as an ordinary trace step: every op outside attention
runs on all ``M = sum q`` tokens at once (the ops of :func:`archsim.trace.generate.step_ops`
for ``M`` tokens), the LM head on the sampling sequences only, and each layer's attention score,
softmax and context as one ragged op whose FLOPs and bytes are the exact sums over sequences
(``attrs["segments"]``: ``((q, kv, count), ...)``, for devices that price by shape).

:class:`StepModel` prices compositions. On a design point of one device, ops run back to
back, so a step's time is the sum of its op costs: the cost of everything but attention
depends only on ``M`` and on the number of sampling sequences and is memoized per value, and
attention is priced once per layer shape, counted ``num_layers`` times; the first iteration of
a run is checked against the engine, and a model whose layers differ falls back to the engine
for every iteration (tests check both agree). A design point of several devices (placement
rules) runs each distinct composition through the engine (:class:`archsim.engine.Simulator`),
memoized. So does a design point with a parallelism plan, the plan applied to each
composition: ragged attention split by heads on the tensor ranks (recounted per segment) or
by (sequence, KV head) pairs over an attention pool (:mod:`archsim.transforms.ragged`),
sequences cut into the plan's micro-batches; the engine runs the plan on models of 1, 2 and 3
layers and the full model is extrapolated from the last layer's increment (identical layers
repeat one schedule), or run whole when the increments differ. Pipeline stages, data
parallelism inside the plan and other transforms are refused.
"""
from __future__ import annotations

import dataclasses
from collections import Counter

from ..trace.counting import attention, elementwise, matmul
from ..trace.generate import step_ops
from ..trace.schema import ATTENTION_KINDS, Op, OpKind, Phase, Step, Trace

_CTX = ATTENTION_KINDS | {OpKind.SOFTMAX}
#: layer counts of the models whose engine runs a plan's iteration is extrapolated from
LAYERED = (1, 2, 3)
_TAIL = ("final_norm", "lm_head", "sample")


def segments_of(seqs) -> tuple:
    """``((q, kv, count), ...)`` sorted: the ragged batch ``seqs`` (``(q, kv)`` pairs)."""
    return tuple(sorted((q, kv, n) for (q, kv), n in Counter(seqs).items()))


def _one(op: Op, q: int, c: int, heads: int) -> tuple:
    """Counts ``(flops, read, written, kv bytes)`` of ``op`` (one layer's score, softmax or
    context) for one sequence of ``q`` new tokens against ``c`` cached ones, from
    :mod:`archsim.trace.counting`."""
    sh = op.shape
    if op.kind is OpKind.SOFTMAX:
        one = elementwise(op.id, op.name, op.kind, op.layer, q * heads, c, "softmax",
                          op.dtype, op.deps)
    else:
        one = attention(op.id, op.name, op.kind, op.layer, 1, sh["heads"], sh["kv_heads"],
                        q, c, sh["head_dim"], op.dtype, op.kv_dtype, op.deps)
    return (one.flops, one.bytes_read, one.bytes_written, one.kv_bytes)


def _ragged(op: Op, segments: tuple, heads: int, memo: dict | None = None) -> Op:
    """``op`` (attention score, softmax or context of one layer) over a ragged batch
    (``memo``: per-sequence counts of this op by ``(q, kv)``)."""
    memo = {} if memo is None else memo
    flops = read = written = kv = 0
    nseq = rows = qmax = cmax = 0
    for q, c, n in segments:
        t = memo.get((q, c))
        if t is None:
            t = memo[(q, c)] = _one(op, q, c, heads)
        flops += n * t[0]
        read += n * t[1]
        written += n * t[2]
        kv += n * t[3]
        nseq += n
        rows += q * n
        qmax = q if q > qmax else qmax
        cmax = c if c > cmax else cmax
    if op.kind is OpKind.SOFTMAX:
        shape = {"rows": rows * heads, "cols": cmax}
    else:
        shape = dict(op.shape, batch=nseq, q_len=qmax, kv_len=cmax)
    return Op(op.id, op.name, op.kind, op.layer, shape, op.dtype, flops, read, written,
              op.weight_bytes, kv, op.weight_dtype, op.kv_dtype, op.deps, None, None,
              {**op.attrs, "segments": segments}, op.devices, op.prior)


def composition_step(w, seqs, sampling: int) -> Step:
    """The forward pass of model ``w`` over the ragged batch ``seqs`` (``(q, kv)`` per
    sequence) in which ``sampling`` sequences sample a token (see module docstring)."""
    segments = segments_of(seqs)
    M = sum(q for q, _ in seqs)
    w1 = dataclasses.replace(w, batch_size=1)
    m = w.model
    ops = []
    for op in step_ops(w1, M, M):
        if op.kind in _CTX:
            op = _ragged(op, segments, m.num_heads)
        elif op.name in _TAIL:
            if not sampling:
                continue                # nothing samples: no final norm, LM head or sampling
            op = _tail(op, w, sampling)
        ops.append(op)
    phase = Phase.DECODE if all(q == 1 for q, _ in seqs) else (
        Phase.PREFILL if sampling == len(seqs) and all(q == c for q, c in seqs) else Phase.MIXED)
    return Step(0, phase, len(seqs), M, max(c for _, c in seqs), tuple(ops),
                tokens_out=sampling, first_tokens=0)


def _tail(op: Op, w, rows: int) -> Op:
    """Final norm, LM head or sampling on ``rows`` positions (0: the op does nothing)."""
    m, act, wt = w.model, w.precision.activations, w.precision.weights
    if op.name == "final_norm":
        p = m.hidden_size * (2 if m.norm == "layernorm" else 1)
        return elementwise(op.id, op.name, op.kind, -1, rows, m.hidden_size, m.norm, act,
                           op.deps, param_elements=p, wdtype=wt, per_row_flops=1)
    if op.name == "lm_head":
        return matmul(op.id, op.name, -1, rows, m.vocab_size, m.hidden_size, act, wt, op.deps,
                      bias=False)
    return elementwise(op.id, op.name, op.kind, -1, rows, m.vocab_size, "argmax", act, op.deps)


def _engine_hit(r) -> tuple:
    """``(ps, actions, link stats)`` of an engine run of one iteration."""
    return (int(r.step_ps.sum()), tuple(r.actions.items()),
            tuple((k, tuple(v)) for k, v in r.link_stats.items()))


class StepModel:
    """Iteration times (integer picoseconds) of workload ``w``'s model on design point ``hw``.

    Parameters
    ----------
    hw : HardwareConfig
    w : Workload
        The model and precisions (batch, prompt and generation lengths are the requests').
    """

    def __init__(self, hw, w) -> None:
        from ..engine.simulator import Simulator
        self.hw, self.w = hw, w
        self.plan = hw.trace_transforms()
        pl = hw.parallelism
        if self.plan and (self.plan != (pl,) or pl.pipeline > 1 or pl.data > 1):
            from ..errors import ConfigError
            raise ConfigError(f"serving on design point {hw.name!r} is not modelled: tensor "
                              "parallelism, micro-batches and an attention pool split an "
                              "iteration's ragged batch per sequence; pipeline stages, data "
                              "parallelism in the plan and other transforms are not supported "
                              "(use --replicas for data parallelism)",
                              key="parallelism" if hw.parallelism is not None else "transforms")
        if getattr(w, "attention_window", None) is not None:
            from ..errors import ConfigError
            raise ConfigError("serving with a sink + window attention is not modelled: the "
                              "paged KV cache and the ragged attention grow with each "
                              "request's context, where a window bounds both; simulate it "
                              "with archsim run", key="attention_window")
        if self.plan and not hw.allow_unused_devices:
            # an iteration with fewer (sequence, KV head) pairs than pool units leaves some
            # idle: each iteration may; the design point must still map every device, checked
            # once on a batch of a sequence per device and micro-batch (a one-layer model)
            n = len(hw.devices) * hw.parallelism.micro_batches
            one = dataclasses.replace(w, model=dataclasses.replace(w.model, num_layers=1))
            Simulator(hw).run(self._plan_trace([(1, 16)] * n, n, one))
            hw = dataclasses.replace(hw, allow_unused_devices=True)
        self.sim = Simulator(hw)
        self.additive = len(hw.devices) == 1 and not self.plan
        self._lin: dict = {}
        self._tail: dict = {}
        self._attn: dict = {}
        self._engine: dict = {}
        self._layer = None
        # every decoder layer has the same ops: price one and count it num_layers times
        self._w1 = dataclasses.replace(w, model=dataclasses.replace(w.model, num_layers=1))
        self._name = next(iter(self.sim.system.devices))
        self._device = self.sim.system.devices[self._name]
        self._checked = False             # the first iteration is checked against the engine
        # a plan: the engine runs the plan on models of LAYERED layers and extrapolates (see
        # :meth:`_layered`); the first iteration is checked against the full model's run
        L = w.model.num_layers
        self.layered = [dataclasses.replace(w, model=dataclasses.replace(w.model, num_layers=n))
                        for n in LAYERED] if self.plan and L > LAYERED[-1] else None
        self.extrapolated = 0             # iterations priced by extrapolation
        self.counts: dict = {}            # (device, kind, action) -> count, all iterations
        self.link_stats: dict = {}        # link -> [bytes, busy ps]
        self.calls = 0

    def time_ps(self, seqs, sampling: int) -> int:
        """Duration of one iteration over ``seqs`` (``(q, kv)`` per sequence), ``sampling`` of
        them sampling a token; its action counts are added to :attr:`counts` (and link traffic
        to :attr:`link_stats`), for pricing once the run is over."""
        self.calls += 1
        if self.additive and not self._checked:
            self._checked = True
            before = dict(self.counts)
            fast = self._fast(seqs, sampling)
            if fast == self._engine_ps(seqs, sampling):
                return fast
            # the layers differ (per-layer precisions, windows ...): the engine prices it all
            self.counts, self.additive = before, False
        if not self.additive:
            key = (segments_of(seqs[:sampling]), segments_of(seqs[sampling:]))
            hit = self._engine.get(key)
            if hit is None and self.layered is not None:
                hit = self._layered(seqs, sampling)
                if hit is not None and not self._checked:
                    self._checked = True
                    if hit[0] != self._engine_ps(seqs, sampling):
                        self.layered = None       # the layers differ: the full engine run
                        hit = None
                if hit is not None:
                    self._engine[key] = hit
            if hit is None:
                hit = self._engine[key] = _engine_hit(self.sim.run(self._plan_trace(seqs,
                                                                                    sampling)))
            return self._charge(hit)
        return self._fast(seqs, sampling)

    def step_ps(self, key, make) -> int:
        """Duration of an iteration whose one-step trace ``make()`` builds, the plan applied
        (a decoding strategy's chained passes, :mod:`.strategy_step`), memoized by ``key``;
        counted as :meth:`time_ps` counts."""
        hit = self._engine.get(key)
        if hit is None:
            hit = self._engine[key] = _engine_hit(self.sim.run(make()))
        return self._charge(hit)

    def _charge(self, hit) -> int:
        """Count an engine run's actions and link traffic; its duration."""
        for name, (b, busy) in hit[2]:
            st = self.link_stats.setdefault(name, [0, 0])
            st[0] += b
            st[1] += busy
        return self._add(hit)

    def _layered(self, seqs, sampling: int):
        """The engine's ``(ps, actions, link stats)`` of the iteration under the plan, from
        runs of the plan on models of 1, 2 and 3 layers, or ``None`` when the second and third
        layers do not add the same time. Identical layers under a plan repeat one schedule:
        once the micro-batches' stagger has settled (the first layer may differ), every layer
        adds the same time, counts and traffic, so the full model's ``L`` layers are the
        3-layer run plus ``L - 3`` times what the third layer added. Tested equal to the full
        engine run; the first iteration of every run is checked against it."""
        (p1, _, _), (pa, aa, la), (pb, ab, lb) = (
            _engine_hit(self.sim.run(self._plan_trace(seqs, sampling, wl)))
            for wl in self.layered)
        if pb - pa != pa - p1:
            return None                   # not settled: the full engine run prices it
        self.extrapolated += 1
        n = self.w.model.num_layers - LAYERED[1]
        a, b = dict(aa), dict(ab)
        acts = tuple((k, a.get(k, 0) + n * (v - a.get(k, 0))) for k, v in b.items())
        la, lb = dict(la), dict(lb)
        links = tuple((k, tuple(x + n * (y - x) for x, y in zip(la.get(k, (0, 0)), v)))
                      for k, v in lb.items())
        return pa + n * (pb - pa), acts, links

    def _engine_ps(self, seqs, sampling: int) -> int:
        """The engine's time for the iteration (nothing counted)."""
        return int(self.sim.run(self._plan_trace(seqs, sampling)).step_ps.sum())

    def _plan_trace(self, seqs, sampling: int, w=None) -> Trace:
        """The one-step trace of the iteration, the design point's plan applied: ragged
        attention split by heads on the tensor ranks (each sequence at its own context,
        :func:`archsim.transforms.shard.attention_part`) or by (sequence, KV head) pairs over
        an attention pool (:func:`archsim.transforms.ragged.pool_part`); with micro-batches,
        the sequences (the first ``sampling`` of which sample) cut into micro-batches
        (:func:`archsim.transforms.ragged.micro_batches`), staggered within the iteration."""
        w = self.w if w is None else w
        if not self.plan:
            return Trace((composition_step(w, seqs, sampling),), w.to_dict())
        pl = self.hw.parallelism
        if pl.micro_batches > 1:
            from ..transforms.parallel import plan_micro_batches
            from ..transforms.ragged import micro_batches
            parts = [composition_step(w, [seqs[i] for i in g],
                                      sum(1 for i in g if i < sampling))
                     for g in micro_batches(seqs, sampling, pl.micro_batches)]
            return plan_micro_batches(pl, parts, self.hw, w.to_dict())
        from ..transforms import apply_transforms
        t = Trace((composition_step(w, seqs, sampling),), w.to_dict())
        return apply_transforms(t, self.plan, self.hw)

    def _fast(self, seqs, sampling: int) -> int:
        """The additive, memoized time of the iteration on one device (counts added)."""
        M = sum(q for q, _ in seqs)
        lin = self._lin.get(M)
        if lin is None:
            lin = self._lin[M] = self._sum(composition_step(self._w1, [(M, M)], 0), "lin")
        tail = self._tail.get(sampling)
        if tail is None:
            tail = self._tail[sampling] = self._sum(
                composition_step(self._w1, [(1, 1)] * sampling, sampling), "tail") \
                if sampling else (0, ())
        seg = segments_of(seqs)
        att = self._attn.get(seg)
        if att is None:
            if self._layer is None:
                self._layer = [op for op in step_ops(dataclasses.replace(self.w, batch_size=1),
                                                     1, 1) if op.kind in _CTX and op.layer == 0]
                self._memos = [{} for _ in self._layer]
            H = self.w.model.num_heads
            att = self._attn[seg] = self._costs(
                [_ragged(op, seg, H, memo) for op, memo in zip(self._layer, self._memos)],
                self.w.model.num_layers, memo=False)
        return self._add(lin) + self._add(tail) + self._add(att)

    def _add(self, part) -> int:
        """Count ``part``'s actions; its duration."""
        counts = self.counts
        for k, v in part[1]:
            counts[k] = counts.get(k, 0) + v
        return part[0]

    def _sum(self, step: Step, part: str) -> tuple:
        """``(ps, actions)`` of one part of ``step``: ``lin`` (all but attention and the tail)
        or ``tail`` (final norm, LM head, sampling); a layer's op counts ``num_layers`` times."""
        ops = [op for op in step.ops
               if (op.name in _TAIL) == (part == "tail") and op.kind not in _CTX]
        return self._costs(ops, None)

    def _costs(self, ops, times: int | None, memo: bool = True) -> tuple:
        """``(ps, actions)`` of ``ops`` on the device, each counted ``times`` (``None``:
        ``num_layers`` for a layer's op, once otherwise), actions as ``((device, kind,
        action), count)`` items."""
        dev = self._name
        L = self.w.model.num_layers
        ps, acts = 0, {}
        for op in ops:
            n = times if times is not None else (L if op.layer >= 0 else 1)
            c = self.sim.cost(dev, op) if memo else self._device.op_cost(op)
            ps += c.duration_ps * n
            kind = op.kind.value
            for a, v in c.actions.items():
                k = (dev, kind, a)
                acts[k] = acts.get(k, 0) + v * n
        return ps, tuple(acts.items())

    def priced(self, makespan_ps: int, replicas: int = 1):
        """:class:`archsim.pricing.Priced` of everything counted, ``replicas`` copies of the
        design point on for ``makespan_ps`` (static power)."""
        from ..pricing import price
        p = price(self.sim.system, makespan_ps, self.counts,
                  {k: tuple(v) for k, v in self.link_stats.items()})
        if replicas == 1:
            return p
        static = sum(d["static"] for d in p.energy["devices"].values())
        return dataclasses.replace(p, energy_j=p.energy_j + (replicas - 1) * static)
