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

Only tensor (and data) parallelism is honoured: pipeline stages are cut by the target's layer
indices, which a draft model's layers do not share, and an attention pool divides the target's
(sequence, KV head) pairs; both are refused with a draft or Medusa heads in the trace.
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
    """Refuse a pipeline or an attention pool when ``ops`` hold a draft's or Medusa's ops."""
    if plan.pipeline == 1 and plan.attention is None:
        return
    for op in ops:
        if split_prefix(op.name)[0] or medusa_role(op.name):
            what = "pipeline stages (cut by the target's layers)" if plan.pipeline > 1 else \
                "an attention pool (dividing the target's KV heads)"
            raise ConfigError(f"op {op.name!r} of a decoding strategy cannot be split by "
                              f"{what}; speculative and Medusa decoding are modelled with "
                              "tensor and data parallelism only", key="parallelism")
