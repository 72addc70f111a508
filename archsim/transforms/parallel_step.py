"""One step of the parallelism transform: the builder that lays a logical step's ops onto the
plan's units (:mod:`.parallel` describes the plan), and the patching that reuses a built step
for the next one when only op contents changed (decode steps differ in their attention ops'
context length alone).
"""
from __future__ import annotations

import dataclasses

from ..dtypes import nbytes
from ..errors import ConfigError
from ..trace.schema import ATTENTION_KINDS, Op, OpKind, Step
from . import ragged, shard
from .base import pinned_error
from .units import member_for


def same_structure(prev, cur) -> bool:
    """Whether logical ops ``cur`` differ from ``prev`` only in content (shapes, counts): the
    same ops, or ops of the same name, kind, layer, dependencies and pins."""
    if len(prev) != len(cur):
        return False
    for a, b in zip(prev, cur):
        if a is not b and (a.name != b.name or a.kind is not b.kind or a.layer != b.layer
                           or a.deps != b.deps or a.prior != b.prior or a.devices != b.devices):
            return False
    return True


def patch_step(prev_logical, cur_logical, prev_ops, recipe) -> list:
    """The transformed ops of ``cur_logical`` from those of ``prev_logical``: ops built from a
    logical op that changed are rebuilt from their recipe and keep their place (id, deps,
    pins); every other op is the same object. ``recipe`` maps a logical op id to the
    ``(transformed index, make, key)`` built from it; ``make`` results with equal keys are
    equal (shards of the same size on other units or micro-batches) and made once."""
    out = list(prev_ops)
    for i, (a, b) in enumerate(zip(prev_logical, cur_logical)):
        if a is b:
            continue
        made: dict = {}
        for j, make, key in recipe.get(i, ()):
            s = made.get(key)
            if s is None:
                s = made[key] = make(b)
            old = prev_ops[j]
            out[j] = Op(old.id, s.name, s.kind, s.layer, s.shape, s.dtype, s.flops,
                        s.bytes_read, s.bytes_written, s.weight_bytes, s.kv_bytes,
                        s.weight_dtype, s.kv_dtype, old.deps, s.measured_ns,
                        s.measured_energy_j, s.attrs, old.devices, old.prior)
    return out


class StepBuilder:
    """The ops of one transformed step. ``parts``: the step's micro-batches as logical op lists
    of the same structure, each sized to its own sequences (a serving iteration cut by
    sequences, :func:`.parallel.plan_micro_batches`); ``None``: the plan's micro-batches are
    equal shares of ``step``."""

    def __init__(self, planner, step: Step, prev_last, parts=None) -> None:
        self.pl, self.step, self.prev_last = planner, step, prev_last
        self.parts = parts
        # the micro-batch share a logical op is cut to (1: the parts are cut already)
        self.mb_share = 1 if parts is not None else planner.p.micro_batches
        self.ops: list = []
        self.recipe: dict = {}  # logical op id -> [(index, make, key)]; static ops left out
        self.where: dict = {}   # (replica, mb, logical id) -> {tensor rank or unit: new id}
        self._sends: dict = {}

    def add(self, logical: Op, variant, deps, make, prior=(), static=False, key=None) -> int:
        """Append the op ``make(logical)`` builds at ``variant`` (whose last item is its
        device, or a collective's members). Built once per (logical op, variant, position,
        dependencies): decode steps that share logical ops share the transformed ones. The
        recipe is kept so that a later step whose logical ops differ only in content can be
        patched (:func:`patch_step`); ``static`` ops (transfers, collectives) do not depend on
        the content of the logical op that placed them and keep their identity."""
        new_id = len(self.ops)
        ck = (id(logical), variant, new_id, tuple(deps), tuple(prior))
        hit = self.pl.cache.get(ck)
        if hit is None:
            dev = variant[-1]
            hit = self.pl.cache[ck] = (logical, dataclasses.replace(
                make(logical), id=new_id, deps=tuple(deps), prior=tuple(prior),
                devices=dev if type(dev) is tuple else (dev,)))
        self.ops.append(hit[1])
        if not static:
            self.recipe.setdefault(logical.id, []).append(
                (new_id, make, key if key is not None else new_id))
        return new_id

    def build(self):
        pl, p = self.pl, self.pl.p
        logical = self.step.ops
        for o in logical:
            if o.devices:
                raise pinned_error(o, "parallelism")
        M = p.micro_batches
        parts = self.parts or [logical] * M
        last = {}
        for is_att, ids in pl.segments(logical):
            if not is_att:
                for r in range(p.data):
                    for mb in range(M):
                        for i in ids:
                            self.dense(parts[mb][i], r, mb, last)
            else:
                for r in range(p.data):
                    for mb in range(M):
                        for i in ids:
                            self.attention(parts[mb][i], r, mb)
        return self.ops, last

    # ---- dense ops on the tensor ranks of a stage ----------------------------------------------
    def deps_on_rank(self, op, r, mb, rank) -> list:
        out = []
        for d in op.deps:
            placed = self.where[(r, mb, d)]
            if rank in placed:
                out.append(placed[rank])
            elif ("to", rank) in placed:                 # attention output returned to rank
                out += placed[("to", rank)]
            else:                                         # whole-on-all value (e.g. collective)
                out.append(placed.get("all", next(iter(placed.values()))))
        return out

    def dense(self, op: Op, r: int, mb: int, last: dict) -> None:
        pl, p = self.pl, self.pl.p
        t, role, st = p.tensor, pl.role(op), pl.stage(op)
        placed = {}
        for k in range(t):
            unit = pl.unit(r, st, k)
            make = lambda o, k=k: _dense_shard(pl, o, role, k, self.mb_share)  # noqa: E731
            prior = ()
            if self.prev_last is not None and not op.deps and (r, mb, k) in self.prev_last:
                prior = ((1, self.prev_last[(r, mb, k)]),)
            dev = member_for(op, unit, pl.hw)
            placed[k] = self.add(op, (r, mb, k, dev), self.deps_on_rank(op, r, mb, k), make,
                                 prior, key=(role, k))
            last[(r, mb, k)] = placed[k]
        if t > 1 and role in ("row", "vocab"):
            members = tuple(self.ops[placed[k]].devices[0] for k in range(t))
            what = "all_reduce" if role == "row" else "all_gather"
            cid = self.add(op, (r, mb, what, members), [placed[k] for k in range(t)],
                           lambda o: _collective(o, what, self.mb_share), static=True)
            placed = {k: cid for k in range(t)}
            placed["all"] = cid
        self.where[(r, mb, op.id)] = placed

    # ---- attention on the pool -------------------------------------------------------------------
    def attention(self, op: Op, r: int, mb: int) -> None:
        pl, p = self.pl, self.pl.p
        t, pool, M = p.tensor, pl.pool, self.mb_share
        G, n = pl.H // pl.KV, len(pool)
        if ragged.is_ragged(op):
            # a serving iteration's ragged batch: each pair at its own sequence's q and context
            if M > 1:
                raise ConfigError(f"op {op.name!r} is a ragged batch: cut it into micro-batches "
                                  "by sequences (parallel.plan_micro_batches)",
                                  key="parallelism.micro_batches")
            segs = op.attrs["segments"]
            B = sum(c for _, _, c in segs)

            def pair_bytes(a, b, per_token, dtype):     # per pair, each at its own q_len
                return sum(c * nbytes(q * per_token, dtype)
                           for q, _, c in ragged.pair_segments(segs, pl.KV, a, b))
        else:
            B, q_len = self.step.batch // M, int(self.step.new_tokens)

            def pair_bytes(a, b, per_token, dtype):
                return (b - a) * nbytes(q_len * per_token, dtype)
        pairs = B * pl.KV
        bounds = [pairs * u // n for u in range(n + 1)]
        per_rank = pairs // t                      # pairs whose Q, K, V each tensor rank makes
        placed = {}
        for u in range(n):
            lo, hi = bounds[u], bounds[u + 1]
            if hi == lo:
                continue
            if ragged.is_ragged(op):
                make = lambda o, lo=lo, hi=hi: ragged.pool_part(o, lo, hi, pl.KV, G)  # noqa: E731
            elif op.kind in ATTENTION_KINDS:
                make = lambda o, lo=lo, hi=hi: shard.attention_part(o, hi - lo, G, 1)  # noqa: E731
            else:
                make = lambda o, lo=lo, hi=hi: shard.share(  # noqa: E731
                    shard.share(o, 1, M), hi - lo, pairs)
            deps = []
            for d in op.deps:
                src = self.where[(r, mb, d)]
                if ("pool", u) in src:
                    deps.append(src[("pool", u)])
                else:
                    deps += self.sends(op, d, src, r, mb, u, lo, hi, per_rank, G, pair_bytes)
            dev = member_for(op, pool[u], pl.hw)
            # shares of equal size are equal, but a ragged batch's pairs differ by range
            key = ("pool", lo, hi) if ragged.is_ragged(op) else ("pool", hi - lo)
            placed[("pool", u)] = self.add(op, (r, mb, ("pool", u), dev), deps, make, key=key)
        if op.kind is OpKind.ATTENTION_CONTEXT:
            # attention output back to the tensor ranks that own the pairs' heads
            for k in range(t):
                rets = []
                for u in range(n):
                    a = max(bounds[u], k * per_rank)
                    b = min(bounds[u + 1], (k + 1) * per_rank)
                    if b <= a:
                        continue
                    src = placed[("pool", u)]
                    out = pair_bytes(a, b, G * pl.hd, op.dtype)
                    rets.append(self.add(op, (r, mb, ("ret", u, k), self.ops[src].devices[0]),
                                         [src], lambda o, n_=out: _transfer(
                                             f"L{o.layer}.attention_to_dense", o, n_),
                                         static=True))
                placed[("to", k)] = rets
        self.where[(r, mb, op.id)] = placed

    def sends(self, op, d, src, r, mb, u, lo, hi, per_rank, G, pair_bytes) -> list:
        """Q, K and V of pool unit ``u``'s pairs ``[lo, hi)`` from every tensor rank that made
        some of them (one transfer per rank and unit and layer, shared by score and context);
        ``pair_bytes(a, b, per_token, dtype)``: bytes of ``per_token`` values per query token of
        pairs ``[a, b)``."""
        key = (r, mb, op.layer, u, d)
        hit = self._sends.get(key)
        if hit is not None:
            return hit
        hd = self.pl.hd
        out = []
        for k in range(self.pl.p.tensor):
            a, b = max(lo, k * per_rank), min(hi, (k + 1) * per_rank)
            if b > a:
                n_ = pair_bytes(a, b, G * hd, op.dtype) + \
                    pair_bytes(a, b, 2 * hd, op.kv_dtype or op.dtype)
                out.append(self.add(op, (r, mb, ("send", k, u), self.ops[src[k]].devices[0]),
                                    [src[k]], lambda o, n_=n_: _transfer(
                                        f"L{o.layer}.qkv_to_attention", o, n_), static=True))
        self._sends[key] = out
        return out


def _dense_shard(pl, op: Op, role: str, k: int, mb_share: int) -> Op:
    """Tensor rank ``k``'s share of one micro-batch of logical op ``op`` (``1 / mb_share`` of
    it)."""
    p = pl.p
    t = p.tensor
    part = shard.share(op, 1, mb_share)
    H, KV, hd, kv_rank = pl.dims(op)
    if role == "qkv":
        return shard.qkv(part, H, KV, hd, t) if t > 1 else part
    if role == "column":
        return shard.column(part, t)
    if role == "row":
        return shard.row(part, t, k)
    if role == "cols":
        return shard.split_cols(part, t) if t > 1 else part
    if role == "attention":
        if op.kind in ATTENTION_KINDS:
            return shard.attention_part(part, int(part.shape["batch"]), H // t, kv_rank)
        return shard.share(part, 1, t)
    if role == "vocab":
        return shard.vocab(part, t, k)
    return part


def _collective(op: Op, what: str, micro_batches: int) -> Op:
    """The all-reduce after a row-split matmul, or the all-gather of the vocabulary shards."""
    m, n = int(op.shape["m"]) // micro_batches, int(op.shape["n"])
    return Op(0, f"{op.name}.{what}", OpKind.COLLECTIVE, op.layer, {"elements": m * n},
              op.dtype, 0, 0, nbytes(m * n, op.dtype), attrs={"collective": what})


def _transfer(name: str, op: Op, nbytes_: int) -> Op:
    """A ``transfer`` op: the part of its dependency's output that crosses to its consumers."""
    return Op(0, name, OpKind.TRANSFER, op.layer, {"bytes": nbytes_}, op.dtype, 0, 0, nbytes_)
