"""How a parallelism plan splits the ops a decoding strategy adds: a draft model's passes
(``draft.*``) and Medusa's heads (``medusa.h<i>.*``).

* **draft model**: sharded like the target on the same tensor ranks (Megatron splits of its
  own shapes: its heads, KV heads and head size, read from the trace's workload record), as a
  serving engine that runs the draft inside the target's tensor-parallel group does (vLLM's
  draft-model speculative decoding runs the draft with the target's TP size by default).
* **Medusa heads**: each head's residual blocks (``d x d`` linear, SiLU, residual add) run whole
  on every rank, its ``d x vocab`` LM head is split by vocabulary and gathered, as vLLM's Medusa
  model does (``ResidualBlock`` of plain linears, ``ParallelLMHead`` heads:
  vllm/model_executor/models/medusa.py); the top-k runs on every rank.

With an attention pool (Lamina, AttAcc), the target's attention runs on the pool, a
speculative verification (``q_len = k + 1``) or a Medusa tree (``q_len`` = tree size, tree
mask) against the target's KV cache like any other; the draft model's passes, its attention
included, and Medusa's heads run on the dense units with the tensor-parallel splits above. The
draft's KV cache is small (TinyLlama-1.1B: 22 layers x 4 KV heads x 64, K and V: 22 KiB per
token in fp16, against Llama-2-7B's 512 KiB) and the draft's one-token passes are
latency-bound, so its attention stays beside its dense ops; what Lamina offloads is the
target's KV cache and attention (Chen et al., arXiv 2405.01814 v2: attention workers hold the
KV cache and run attention, model workers the rest). Pipeline stages are refused with a draft
or Medusa heads in the trace: they are cut by the target's layer indices, which a draft model's
layers and Medusa's heads do not share.
"""
from __future__ import annotations

import re

from ...errors import ConfigError

#: prefixes of a draft model's ops
PREFIXES = ("draft.",)
#: role of a Medusa head's op, by its name without the layer index
MEDUSA_ROLES = {"fc": "whole", "act": "whole", "residual": "whole", "lm_head": "vocab",
                "topk": "whole", "embed": "whole", "skip": "whole"}   # embed, skip: Hydra heads
_MEDUSA = re.compile(r"^medusa\.h\d+\.([a-z_]+?)\d*$")


def split_prefix(name: str) -> tuple:
    """``(prefix, name)``: a draft model's op name without its prefix."""
    for p in PREFIXES:
        if name.startswith(p):
            return p, name[len(p):]
    return "", name


def medusa_role(name: str):
    """The role of a Medusa head's op, or ``None`` for any other op."""
    m = _MEDUSA.match(name)
    return MEDUSA_ROLES.get(m.group(1)) if m else None


def draft_dims(workload: dict) -> dict:
    """``{prefix: (heads, kv_heads, head_dim)}`` of the draft models recorded in a trace's
    workload dict."""
    dec = (workload or {}).get("decoding") or {}
    m = (dec.get("speculative") or {}).get("draft_model")
    if not m:
        return {}
    H = int(m["num_heads"])
    return {"draft.": (H, int(m.get("num_kv_heads") or H),
                       int(m.get("head_dim") or int(m["hidden_size"]) // H))}


def check_plan(plan, ops) -> None:
    """Refuse pipeline stages when ``ops`` hold a draft's or Medusa's ops."""
    if plan.pipeline == 1:
        return
    for op in ops:
        if split_prefix(op.name)[0] or medusa_role(op.name):
            raise ConfigError(f"op {op.name!r} of a decoding strategy cannot be split by "
                              "pipeline stages (cut by the target's layers); speculative and "
                              "Medusa decoding are modelled with tensor and data parallelism "
                              "and an attention pool", key="parallelism")
