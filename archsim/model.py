"""Decoder-only transformer architectures as data (the model zoo).

Each preset in ``archsim/presets/models/`` gives the architecture hyper-parameters and the
source they were read from. Weights are never needed: archsim counts work, it does not compute.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .config.schema import param
from .config.presets import list_presets


@dataclass(frozen=True)
class ModelSpec:
    """Architecture of a decoder-only transformer.

    ``ffn_kind: mlp`` is up-projection, activation, down-projection (GPT-2, OPT);
    ``gated`` is SwiGLU-style gate and up projections multiplied after the activation (Llama).
    """

    _preset_category = "models"

    name: str = param(doc="model name")
    source: str = param(doc="where the hyper-parameters come from")
    num_layers: int = param(min=1)
    hidden_size: int = param(min=1)
    num_heads: int = param(min=1)
    ffn_size: int = param(min=1)
    vocab_size: int = param(min=1)
    max_positions: int = param(min=1, doc="longest supported context")
    num_kv_heads: int | None = param(default=None, min=1, doc="defaults to num_heads (MHA)")
    head_dim: int | None = param(default=None, min=1, doc="defaults to hidden_size / num_heads")
    ffn_kind: Literal["mlp", "gated"] = param(default="mlp")
    activation: Literal["gelu", "relu", "silu"] = param(default="gelu")
    norm: Literal["layernorm", "rmsnorm"] = param(default="layernorm")
    position: Literal["learned", "rope"] = param(default="learned")
    tied_embeddings: bool = param(default=True)
    bias: bool = param(default=True, doc="linear layers have biases")
    parameters: str | None = param(default=None, doc="nominal size as published, e.g. '6.7B'")

    @classmethod
    def __archsim_build__(cls, value, ctx):
        """A model is a preset name, or a mapping (which may ``extends`` a preset)."""
        from .config.presets import preset_reference
        from .config.schema import build
        value = preset_reference(value, ctx, "a model preset name (archsim list models) or a "
                                 "mapping")
        return build(cls, value, ctx)

    def validate(self):
        if self.num_kv_heads is not None and self.num_heads % self.num_kv_heads:
            return ([("num_kv_heads",), ("num_heads",)], f"num_heads ({self.num_heads}) must be a multiple of "
                    f"num_kv_heads ({self.num_kv_heads})")
        if self.head_dim is None and self.hidden_size % self.num_heads:
            return ([("num_heads",), ("hidden_size",)], f"hidden_size ({self.hidden_size}) is not divisible by "
                    f"num_heads ({self.num_heads}); give head_dim")
        return None

    @property
    def kv_heads(self) -> int:
        return self.num_kv_heads or self.num_heads

    @property
    def dim_head(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    def layer_weight_count(self) -> int:
        """Parameters in one decoder layer (matrices, biases and norm scales)."""
        d, hd, f = self.hidden_size, self.dim_head, self.ffn_size
        qkv_out = (self.num_heads + 2 * self.kv_heads) * hd
        attn_out_in = self.num_heads * hd
        ffn_up = (2 if self.ffn_kind == "gated" else 1) * f
        n = d * qkv_out + attn_out_in * d + d * ffn_up + f * d
        if self.bias:
            n += qkv_out + d + ffn_up + d
        n += 2 * d * (2 if self.norm == "layernorm" else 1)
        return n

    def parameter_count(self) -> int:
        """Total parameters, counting tied embeddings once."""
        d = self.hidden_size
        n = self.num_layers * self.layer_weight_count()
        n += self.vocab_size * d
        if self.position == "learned":
            n += self.max_positions * d
        n += d * (2 if self.norm == "layernorm" else 1)  # final norm
        if not self.tied_embeddings:
            n += self.vocab_size * d
        return n


def list_models() -> list:
    return list_presets("models")
