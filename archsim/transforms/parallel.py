"""A parallelism plan, as data: tensor, pipeline and data parallelism and attention
disaggregation turn the logical trace into per-device ops plus the collectives and transfers
they imply.

``parallelism:`` in a design point (or ``{kind: parallel, ...}`` under ``transforms:``)::

    parallelism:
      devices: gpu        # units of the plan: data x pipeline x tensor of them, ranks in
                          # order replica, stage, tensor rank (see archsim.transforms.units)
      tensor: 4           # Megatron TP: QKV and FFN-up column-split, out-proj and FFN-down
                          # row-split with an all-reduce after each, heads and KV heads split
      pipeline: 2         # PP: layers split in contiguous stages (or layers_per_stage)
      data: 1             # replicas, each running the workload's batch
      micro_batches: 2    # the batch split in this many parts that flow independently:
                          # pipelined over PP stages, staggered against an attention pool
      attention:          # attention disaggregation (Lamina's DOP (a, b), AttAcc)
        devices: h20      # units that run attention score, softmax and context

Per op (see :mod:`.shard` for the counting): QKV and FFN-up are column shards; the activation
and RoPE are column shards; out-proj and FFN-down are row shards followed by an ``all_reduce``
collective over the stage's tensor group; attention runs on the rank's heads; norms, residual
adds and the embedding run whole on every rank; the LM head is split by vocabulary (uneven
shards allowed) and followed by an ``all_gather`` of the logits; sampling runs on every rank.
Pipeline stages hand the residual stream to the next stage through ordinary dependencies, so
the engine moves it over the links.

With an attention pool the (sequence, KV head) pairs of each micro-batch are divided evenly over
the pool's units (a unit computes score, softmax and context of its pairs, with every query head
of each pair's KV head); each tensor rank sends the Q, K and V of the pairs it computed to the
units that own them and gets their attention output back (``transfer`` ops: Lamina v2 section
4, AttAcc's GPU-PIM split). Micro-batches are ordered slice by slice (the dense ops between two
attentions of every micro-batch, then their attentions), so one micro-batch's attention runs
while the next one's dense ops do: Lamina's staggered pipelining.

With more than one micro-batch, or pipeline stages, steps carry no barrier: each micro-batch's
next step starts when its own previous token is sampled (``Op.prior``).
"""
from __future__ import annotations

import dataclasses
from typing import Literal, Optional, Union

from ..config.schema import param
from ..errors import ConfigError
from ..trace.schema import ATTENTION_KINDS, MATMUL_KINDS, Op, Phase, Step, Trace
from . import shard
from .base import Transform, register_transform
from .decoding.plan_roles import check_plan, draft_dims, medusa_role, split_prefix
from .parallel_step import StepBuilder, patch_step, same_structure
from .units import resolve_units

#: role of an op in a decoder layer, by the name after ``L<i>.``
LAYER_ROLES = {"norm1": "whole", "norm2": "whole", "residual1": "whole", "residual2": "whole",
               "qkv_proj": "qkv", "rope": "cols", "attn_score": "attention",
               "softmax": "attention", "attn_context": "attention", "out_proj": "row",
               "ffn_up": "column", "act": "cols", "ffn_down": "row"}
#: role of an op outside the layers, by name
OUTER_ROLES = {"embed": "whole", "final_norm": "whole", "lm_head": "vocab", "sample": "whole"}


@dataclasses.dataclass(frozen=True)
class AttentionPool:
    """Units that run attention (score, softmax, context) for the dense units."""

    devices: Union[str, tuple[str, ...]] = param(doc="a group, devices, or groups zipped")


@register_transform
@dataclasses.dataclass(frozen=True)
class Parallelism(Transform):
    """Tensor, pipeline and data parallelism and attention disaggregation (module docstring)."""

    devices: Union[str, tuple[str, ...]] = param(doc="a group, devices, or groups zipped")
    tensor: int = param(default=1, min=1)
    pipeline: int = param(default=1, min=1)
    data: int = param(default=1, min=1)
    micro_batches: int = param(default=1, min=1)
    layers_per_stage: tuple[int, ...] = param(default=())
    attention: Optional[AttentionPool] = param(default=None)
    kind: Literal["parallel"] = param(default="parallel")

    def validate(self):
        if self.layers_per_stage and len(self.layers_per_stage) != self.pipeline:
            return (("layers_per_stage",), f"{len(self.layers_per_stage)} entries for "
                    f"{self.pipeline} pipeline stages")
        if any(n < 1 for n in self.layers_per_stage):
            return (("layers_per_stage",), "every stage needs at least one layer")
        return None

    def check(self, hw):
        try:
            units = resolve_units(self.devices, hw, ("devices",))
            need = self.data * self.pipeline * self.tensor
            if len(units) != need:
                return (("devices",), f"the plan needs data x pipeline x tensor = {need} units, "
                        f"{self.devices!r} gives {len(units)}")
            if self.attention is not None:
                pool = resolve_units(self.attention.devices, hw, ("attention", "devices"))
                shared = {d for u in pool for d in u} & {d for u in units for d in u}
                if shared:
                    return (("attention", "devices"), "the attention pool shares devices with "
                            f"the dense units: {', '.join(sorted(shared))}")
        except ConfigError as e:
            return (tuple(str(e.key or "devices").split(".")), e.message)
        return None

    def apply(self, trace: Trace, hw=None) -> Trace:
        if hw is None:
            raise ConfigError("the parallel transform needs its design point")
        return _Planner(self, trace, hw).run()


class _Planner:
    """Builds the transformed trace (one instance per application)."""

    def __init__(self, plan: Parallelism, trace: Trace, hw) -> None:
        self.p, self.trace, self.hw = plan, trace, hw
        m = (trace.workload or {}).get("model") or {}
        try:
            self.H, self.L = int(m["num_heads"]), int(m["num_layers"])
            self.KV = int(m.get("num_kv_heads") or self.H)
            self.hd = int(m.get("head_dim") or int(m["hidden_size"]) // self.H)
        except (KeyError, TypeError, ValueError):
            raise ConfigError("a parallelism plan needs the trace's model (num_heads, num_layers, "
                              "hidden_size): this trace records no workload model") from None
        self.units = resolve_units(plan.devices, hw, ("parallelism", "devices"))
        self.pool = resolve_units(plan.attention.devices, hw, ("parallelism", "attention",
                                                               "devices")) \
            if plan.attention else None
        t = plan.tensor
        self.kv_rank = shard.kv_heads_per_rank(self.H, self.KV, t, "qkv_proj")
        if self.pool and self.KV % t:
            raise ConfigError(f"attention disaggregation needs tensor parallelism {t} to divide "
                              f"the {self.KV} KV heads")
        self.stage_of = self._stages()
        self.cache: dict = {}
        # a decoding strategy's draft model, sharded like the target (decoding.plan_roles)
        self.dims_of = {"": (self.H, self.KV, self.hd, self.kv_rank)}
        for pre, (h, kv, hd) in draft_dims(trace.workload).items():
            self.dims_of[pre] = (h, kv, hd, shard.kv_heads_per_rank(h, kv, t, pre + "qkv_proj"))

    def dims(self, op: Op) -> tuple:
        """``(heads, kv_heads, head_dim, kv heads per rank)`` of the model ``op`` belongs to."""
        return self.dims_of[split_prefix(op.name)[0]]

    # ---- structure ---------------------------------------------------------------------------
    def _stages(self) -> list:
        p, L = self.p.pipeline, self.L
        sizes = list(self.p.layers_per_stage) or [L // p + (i < L % p) for i in range(p)]
        if sum(sizes) != L:
            raise ConfigError(f"layers_per_stage adds up to {sum(sizes)}, the model has {L} "
                              "layers", key="parallelism.layers_per_stage")
        if min(sizes) < 1:
            raise ConfigError(f"{p} pipeline stages for {L} layers", key="parallelism.pipeline")
        out = []
        for s, n in enumerate(sizes):
            out += [s] * n
        return out

    def role(self, op: Op) -> str:
        name = split_prefix(op.name)[1]
        if op.layer >= 0:
            r = LAYER_ROLES.get(name.split(".", 1)[-1])
        else:
            r = OUTER_ROLES.get(name) or medusa_role(name)
        if r is None:
            if op.kind in MATMUL_KINDS or op.kind in ATTENTION_KINDS or op.devices:
                raise ConfigError(f"the parallelism plan does not know how to split op "
                                  f"{op.name!r} ({op.kind.value}); known layer ops: "
                                  f"{', '.join(LAYER_ROLES)}")
            return "whole"
        return r

    def stage(self, op: Op) -> int:
        if op.layer >= 0:
            return self.stage_of[op.layer]
        return 0 if op.name == "embed" else self.p.pipeline - 1

    def unit(self, replica: int, stage: int, rank: int) -> tuple:
        p = self.p
        return self.units[(replica * p.pipeline + stage) * p.tensor + rank]

    def segments(self, ops) -> list:
        """Logical op ids in emission segments: split at stage changes and, with a pool, around
        each layer's attention ops."""
        segs, cur, key = [], [], None
        for op in ops:
            # a draft model's attention stays on the dense units (plan_roles)
            att = self.pool is not None and self.role(op) == "attention" \
                and not split_prefix(op.name)[0]
            k = (self.stage(op), att, op.layer if att else None)
            if cur and k != key:
                segs.append((key[1], cur))
                cur = []
            key = k
            cur.append(op.id)
        if cur:
            segs.append((key[1], cur))
        return segs

    # ---- the transform -----------------------------------------------------------------------
    def run(self) -> Trace:
        p = self.p
        steps, prev_last, prev, before = [], None, None, None
        overlap = p.micro_batches > 1 or p.pipeline > 1
        for s in self.trace.steps:
            check_plan(p, s.ops)
            if s.batch % p.micro_batches:
                raise ConfigError(f"micro_batches {p.micro_batches} does not divide the batch "
                                  f"{s.batch} of step {s.index}", key="parallelism.micro_batches")
            like_before = before is not None and (before.batch, before.new_tokens) == (
                s.batch, s.new_tokens) and same_structure(before.ops, s.ops)
            if prev is not None and like_before:
                # a decode step like the previous one: rebuild only what changed
                ops = patch_step(prev[0], s.ops, prev[1], prev[2])
                recipe, last = prev[2], prev_last
            else:
                b = StepBuilder(self, s, prev_last if overlap else None)
                ops, last = b.build()
                recipe = b.recipe
            # a patched step keeps its seed's prior deps (op ids of the step before it), so a
            # step seeds the next one's patch only if its prior deps index a step laid out like
            # itself: none with overlap and no prior deps yet, and not a first decode step
            # after a prefill of another structure (a speculative draft's prefill: its ids
            # would point into the prefill's layout)
            prev = (s.ops, ops, recipe, s) if not overlap or (prev_last is not None
                                                              and like_before) else None
            before = s
            steps.append(dataclasses.replace(
                s, ops=tuple(ops), batch=s.batch * p.data, tokens_out=s.yielded_tokens * p.data,
                first_tokens=s.first_token_sequences * p.data,
                barrier=s.barrier if not overlap or prev_last is None else False))
            prev_last = last
        meta = dict(self.trace.meta)
        meta.setdefault("transforms", []).append(
            {"kind": "parallel", "tensor": p.tensor, "pipeline": p.pipeline, "data": p.data,
             "micro_batches": p.micro_batches, "attention_units": len(self.pool or ())})
        return dataclasses.replace(self.trace, steps=tuple(steps), meta=meta)


def plan_micro_batches(plan: Parallelism, parts, hw, workload: dict) -> Trace:
    """The one-step trace of an iteration whose micro-batches are the logical steps ``parts``
    (ops of the same structure, each sized to its own sequences: a serving iteration cut by
    sequences, :func:`archsim.transforms.ragged.micro_batches`), laid out by ``plan`` with
    ``len(parts)`` micro-batches, staggered as :class:`Parallelism` staggers them. Pipeline
    stages and data parallelism are not modelled here (an error)."""
    if plan.pipeline > 1 or plan.data > 1:
        raise ConfigError("an iteration cut into micro-batches is modelled with tensor "
                          "parallelism and an attention pool, not pipeline stages or data "
                          "parallelism", key="parallelism")
    first = parts[0]
    for s in parts[1:]:        # the same ops (a GEMV in one, a GEMM in another is the same op)
        if len(s.ops) != len(first.ops) or any(
                (a.name, a.layer, a.deps, a.devices) != (b.name, b.layer, b.deps, b.devices)
                for a, b in zip(first.ops, s.ops)):
            raise ValueError("micro-batches of an iteration must have the same ops")
    phases = {s.phase for s in parts}
    step = Step(first.index, phases.pop() if len(phases) == 1 else Phase.MIXED,
                sum(s.batch for s in parts), max(s.new_tokens for s in parts),
                max(s.context_len for s in parts), first.ops,
                tokens_out=sum(s.yielded_tokens for s in parts),
                first_tokens=sum(s.first_token_sequences for s in parts))
    pl = _Planner(dataclasses.replace(plan, micro_batches=len(parts)),
                  Trace((step,), workload), hw)
    check_plan(pl.p, first.ops)
    ops, _ = StepBuilder(pl, step, None, parts=[s.ops for s in parts]).build()
    return Trace((dataclasses.replace(step, ops=tuple(ops)),), workload,
                 meta={"transforms": [{"kind": "parallel", "tensor": plan.tensor,
                                       "micro_batches": len(parts),
                                       "attention_units": len(pl.pool or ())}]})
