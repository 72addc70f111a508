"""How attention ops are laid out on PIM banks: mapping strategies registered by name.

A PIM device names its mapping in its config (``attention_mapping: concat_heads``); the name
selects an :class:`AttentionMapping` from :data:`ATTENTION_MAPPINGS`. A mapping is a small
declarative object: what it is called, where it comes from, and how it turns the attention-score
op of one query position into a simulated command stream. A new mapping is one more class and one
:func:`register_attention_mapping` call.

Shipped:

* ``per_head``: every head its own GEMV (own WRGB burst, own ACTAB/PREA per row), over all
  channels and banks (:func:`archsim.pim.gemv.simulate_gemv` per head): an upper bound on
  attention ACT/PRE, kept for comparison.
* ``concat_heads`` (PIM-GPT): the keys of several heads of a token share one DRAM row, so one
  ACTAB serves them all (:func:`archsim.pim.attention.simulate_scores_concat`); falls back to
  ``per_head`` when a head does not fit a row or the query heads are not a multiple of the KV
  heads.

The attention context (``V^T p``) is one GEMV per head under both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class AttentionMapping:
    """Per-head attention scores: one GEMV per (query position, head)."""

    name: str = "per_head"
    description: str = "one GEMV per head"

    def scores(self, spec, shape: dict, dtype: str):
        """The multi-head score result of one query position, or ``None`` for per-head GEMVs."""
        return None


@dataclass(frozen=True)
class ConcatHeads(AttentionMapping):
    """PIM-GPT head concatenation: the keys of several heads of a token share one DRAM row."""

    name: str = "concat_heads"
    description: str = "heads concatenated in DRAM rows, one ACTAB per row"

    def scores(self, spec, shape: dict, dtype: str):
        from .attention import simulate_scores_concat
        H, Hkv = int(shape["heads"]), int(shape.get("kv_heads", shape["heads"]))
        if H % Hkv:
            return None
        return simulate_scores_concat(spec, int(shape["kv_len"]), int(shape["head_dim"]), Hkv,
                                      H // Hkv, dtype)


#: name -> mapping
ATTENTION_MAPPINGS: dict = {}


def register_attention_mapping(mapping: AttentionMapping) -> AttentionMapping:
    """Make ``mapping`` selectable by its name in PIM device configs."""
    if mapping.name in ATTENTION_MAPPINGS:
        raise ValueError(f"attention mapping {mapping.name!r} is already registered")
    ATTENTION_MAPPINGS[mapping.name] = mapping
    return mapping


def attention_mapping(name: str) -> Optional[AttentionMapping]:
    """The registered mapping called ``name`` (``None`` if there is none)."""
    return ATTENTION_MAPPINGS.get(name)


register_attention_mapping(AttentionMapping())
register_attention_mapping(ConcatHeads())
