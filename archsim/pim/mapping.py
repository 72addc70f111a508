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

* ``head_per_channel`` (AttAcc): each head in one channel, several tokens of a head per DRAM
  row (:mod:`archsim.pim.head_per_channel`); the context of a head is a GEMV on its channel.
* ``attacc``: AttAcc's own command stream for the whole step (scores, softmax, context, with
  its on-die moves and head-level pipelining, :mod:`archsim.pim.attacc_mapping`) as its
  generator publishes it (dummy MACs, interleaved writes its integer stride drops, a repeated
  context; the shortfall is reported); needs all-bank commands over a legacy channel
  (``mapping.allbank_scope: channel``).
* ``attacc_complete``: the same layout and order with every query write and move issued, no
  dummy MACs and each head's own context.

The attention context (``V^T p``) is one GEMV per head over all channels under the first two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class AttentionMapping:
    """Per-head attention scores: one GEMV per (query position, head)."""

    name: str = "per_head"
    description: str = "one GEMV per head"
    #: the PIM device model (:mod:`archsim.devices.pim`) charges this mapping's scores and its
    #: per-head context GEMVs; False for a mapping that also places the context
    device_model: bool = True

    def scores(self, spec, shape: dict, dtype: str):
        """The multi-head score result of one query position, or ``None`` for per-head GEMVs."""
        return None

    def context(self, spec, shape: dict, dtype: str):
        """The context result of all heads, or ``None`` for one all-channel GEMV per head."""
        return None

    def step(self, spec, shape: dict, dtype: str):
        """The whole step (scores, softmax, context) as one pipelined result, or ``None`` when
        the mapping places scores and context apart."""
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


@dataclass(frozen=True)
class HeadPerChannel(AttentionMapping):
    """AttAcc-style: each head in its own channel, several tokens per DRAM row."""

    name: str = "head_per_channel"
    description: str = "one head per channel, tokens packed per row (AttAcc layout)"
    device_model: bool = False

    def scores(self, spec, shape: dict, dtype: str):
        from .head_per_channel import simulate_scores_packed
        return simulate_scores_packed(spec, int(shape["heads"]), int(shape["head_dim"]),
                                      int(shape["kv_len"]), dtype)

    def context(self, spec, shape: dict, dtype: str):
        from .head_per_channel import simulate_context_per_channel
        return simulate_context_per_channel(spec, int(shape["heads"]), int(shape["head_dim"]),
                                            int(shape["kv_len"]), dtype)


@dataclass(frozen=True)
class AttAccMapping(AttentionMapping):
    """AttAcc's bank-level mapping and command order for the whole attention step."""

    name: str = "attacc"
    description: str = ("AttAcc's command stream as its generator publishes it: head per "
                        "legacy channel, pipelined heads")
    device_model: bool = False
    #: keep the generator's dummy MACs, dropped interleaved writes and repeated context
    as_published: bool = True

    def step(self, spec, shape: dict, dtype: str):
        from ..errors import ConfigError
        from .attacc_mapping import simulate_attacc
        if int(shape.get("kv_heads", shape["heads"])) != int(shape["heads"]):
            raise ConfigError("the attacc mapping models multi-head attention (GPT-3): "
                              "--kv-heads must equal --heads")
        return simulate_attacc(spec, int(shape["heads"]), int(shape["head_dim"]),
                               int(shape["kv_len"]), dtype, as_published=self.as_published)

    def shortfall(self, spec, shape: dict, dtype: str) -> dict:
        """Commands as published minus the complete stream's (empty when complete)."""
        if not self.as_published:
            return {}
        from .attacc_mapping import published_shortfall
        return published_shortfall(spec, int(shape["heads"]), int(shape["head_dim"]),
                                   int(shape["kv_len"]), dtype)


@dataclass(frozen=True)
class AttAccComplete(AttAccMapping):
    """AttAcc's layout and order with nothing dropped or repeated."""

    name: str = "attacc_complete"
    description: str = ("AttAcc's layout and order, every query write and move issued, each "
                        "head's own context")
    as_published: bool = False


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
register_attention_mapping(HeadPerChannel())
register_attention_mapping(AttAccMapping())
register_attention_mapping(AttAccComplete())
