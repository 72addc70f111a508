"""SkipDecode layer skipping, as a trace transform.

Del Corro et al., "SkipDecode: Autoregressive Skip Decoding with Batching and Caching for
Efficient LLM Inference", arXiv:2307.02628, 2023.

Decode step ``i`` keeps the ops of the top ``n_i`` decoder layers (layers ``L - n_i`` to
``L - 1``) and every op outside the layers (embedding, final norm, LM head, sampling); a kept
op that depended on a dropped op depends on what that op depended on (the residual stream
passes a skipped layer unchanged). ``n_i`` never increases, so a layer a position runs has the
KV of every earlier position: attention lengths are those of the plain trace. The prefill runs
every layer; all sequences of a batch share a position and so an exit layer, as in the paper.
"""
from __future__ import annotations

import dataclasses

from ...trace.schema import Trace


def drop_layers(ops, first_kept: int, cache: dict) -> tuple:
    """``ops`` without the decoder layers below ``first_kept``, ids renumbered, dependencies
    on dropped ops replaced by theirs. Ops are cached by identity so steps keep sharing them."""
    new_id: dict = {}
    through: dict = {}          # dropped op id -> the kept ids it stands for
    out = []
    for op in ops:
        deps = []
        for d in op.deps:
            for x in (through[d] if d in through else (new_id[d],)):
                if x not in deps:
                    deps.append(x)
        if 0 <= op.layer < first_kept:
            through[op.id] = tuple(deps)
            continue
        nid = len(out)
        new_id[op.id] = nid
        key = (id(op), nid, tuple(deps))
        hit = cache.get(key)
        if hit is None or hit[0] is not op:
            hit = cache[key] = (op, dataclasses.replace(op, id=nid, deps=tuple(deps))
                                if (nid, tuple(deps)) != (op.id, op.deps) else op)
        out.append(hit[1])
    return tuple(out)


def skip_decode_trace(trace: Trace, w) -> Trace:
    """The SkipDecode trace of workload ``w`` (whose ``decoding.skip_decode`` is set)."""
    sk, L = w.decoding.skip_decode, w.model.num_layers
    n = w.generate_tokens - 1
    cache: dict = {}
    steps = [trace.steps[0]]
    layers = []
    for i, st in enumerate(trace.steps[1:], start=1):
        keep = sk.layers_at(i, n)
        layers.append(keep)
        steps.append(dataclasses.replace(st, ops=drop_layers(st.ops, L - keep, cache)))
    meta = dict(trace.meta)
    meta["decoding"] = {"strategy": "greedy", "skip_decode_layers": layers}
    return dataclasses.replace(trace, steps=tuple(steps), meta=meta)
