"""Workloads: a model plus batch size, prompt length, generated tokens and data types."""
from __future__ import annotations

import os
from dataclasses import dataclass, asdict
from typing import Literal, Union

from .config.presets import apply_overrides, locate
from .config.schema import from_located, param
from .dtypes import DTYPE_BITS
from .errors import ConfigError
from .model import ModelSpec
from .transforms.decoding.spec import Decoding

_DTYPES = tuple(DTYPE_BITS)


@dataclass(frozen=True)
class LayerWeights:
    """Decoder layers ``first`` .. ``last`` (inclusive) store their matmul weights as ``weights``
    (per-layer mixed precision, e.g. FlightLLM's mixed 3/4-bit weights)."""

    first: int = param(min=0)
    last: int = param(min=0)
    weights: str = param()

    def validate(self):
        if self.weights not in DTYPE_BITS:
            return (("weights",), f"unknown dtype {self.weights!r}: expected one of "
                    f"{', '.join(_DTYPES)}")
        if self.last < self.first:
            return (("last",), f"last layer {self.last} is before first layer {self.first}")
        return None


@dataclass(frozen=True)
class Precision:
    """Data types of weights, activations and the KV cache, and how low-bit weights are stored
    (:mod:`archsim.trace.formats`): ``weight_group_size`` weights share one ``scale_dtype`` scale;
    ``layer_weights`` overrides the weight dtype of decoder-layer matmuls per layer range."""

    weights: str = param(default="fp16")
    activations: str = param(default="fp16")
    kv_cache: str = param(default="fp16")
    weight_group_size: int | None = param(default=None, min=1,
                                          doc="weights per group-wise scale (None: no scales)")
    scale_dtype: str = param(default="fp16", doc="dtype of group-wise scales (and of biases)")
    layer_weights: tuple[LayerWeights, ...] = param(default=())

    def validate(self):
        for k in ("weights", "activations", "kv_cache", "scale_dtype"):
            v = getattr(self, k)
            if v not in DTYPE_BITS:
                return ((k,), f"unknown dtype {v!r}: expected one of {', '.join(_DTYPES)}")
        seen: set = set()
        for i, lw in enumerate(self.layer_weights):
            layers = set(range(lw.first, lw.last + 1))
            if layers & seen:
                return (("layer_weights", i), f"layers {lw.first}-{lw.last} overlap an earlier "
                        "entry")
            seen |= layers
        return None

    def layer_dtype(self, layer: int) -> str:
        """Weight dtype of the matmuls of decoder layer ``layer``."""
        for lw in self.layer_weights:
            if lw.first <= layer <= lw.last:
                return lw.weights
        return self.weights


@dataclass(frozen=True)
class Sparsity:
    """N:M structured sparsity of the decoder layers' matmul weights (QKV, output projection,
    FFN): at most ``n`` non-zeros in every ``m`` consecutive weights along the input dimension,
    each stored value with an ``index_bits`` position (default ``ceil(log2 m)``). Embeddings and
    the LM head stay dense."""

    n: int = param(min=1)
    m: int = param(min=2)
    index_bits: int | None = param(default=None, min=0)
    source: str | None = param(default=None)

    def validate(self):
        if self.n >= self.m:
            return (("n",), f"n = {self.n} must be less than m = {self.m} (n of every m weights "
                    "are kept)")
        return None

    @property
    def bits_per_index(self) -> int:
        return self.index_bits if self.index_bits is not None else (self.m - 1).bit_length()


@dataclass(frozen=True)
class AttentionWindow:
    """Λ-shaped attention (StreamingLLM's sink + local window, AccLLM's Λ-attention): each query
    attends to the first ``sink_tokens`` tokens and the latest ``window_tokens`` tokens (itself
    included), so at most ``sink_tokens + window_tokens`` keys, and only those are kept in the
    KV cache."""

    sink_tokens: int = param(min=0)
    window_tokens: int = param(min=1)
    source: str | None = param(default=None)

    @property
    def span(self) -> int:
        return self.sink_tokens + self.window_tokens


@dataclass(frozen=True)
class Workload:
    """Autoregressive generation of ``generate_tokens`` tokens for ``batch_size`` prompts.

    The prefill step processes ``prompt_tokens`` per sequence and yields the first token; each of
    the following ``generate_tokens - 1`` decode steps yields one more token per sequence.
    """

    _preset_category = "workloads"

    model: ModelSpec = param()
    batch_size: Union[int, Literal["max"]] = param(
        default=1, min=1, doc="sequences per step, or 'max': the largest batch every device "
        "of the design point holds (archsim.capacity)")
    prompt_tokens: int = param(default=128, min=1)
    generate_tokens: int = param(default=128, min=1)
    precision: Precision = param(default_factory=Precision)
    sparsity: Sparsity | None = param(default=None, doc="N:M sparsity of decoder-layer weights")
    attention_window: AttentionWindow | None = param(
        default=None, doc="sink + local window attention (None: full attention)")
    decoding: Decoding = param(default_factory=Decoding, doc="decoding strategy "
                               "(archsim.transforms.decoding; docs/decoding.md)")
    name: str | None = param(default=None)
    description: str | None = param(default=None)

    def validate(self):
        total = self.prompt_tokens + self.generate_tokens - 1
        if total > self.model.max_positions:
            return (("generate_tokens",), f"prompt_tokens + generate_tokens - 1 = {total} exceeds "
                    f"the model's max_positions {self.model.max_positions}")
        for i, lw in enumerate(self.precision.layer_weights):
            if lw.last >= self.model.num_layers:
                return (("precision", "layer_weights", i, "last"), f"layer {lw.last} does not "
                        f"exist: the model has {self.model.num_layers} layers (0.."
                        f"{self.model.num_layers - 1})")
        return self.decoding.check(self)

    def weight_format(self, layer: int):
        """The :class:`~archsim.trace.formats.WeightFormat` of the matmuls of decoder layer
        ``layer`` (-1: the LM head, dense, at ``precision.weights``)."""
        from .trace.formats import WeightFormat
        p = self.precision
        sp = self.sparsity if layer >= 0 else None
        return WeightFormat(p.layer_dtype(layer) if layer >= 0 else p.weights,
                            p.weight_group_size, p.scale_dtype,
                            (sp.n, sp.m) if sp else None, sp.bits_per_index if sp else 0)

    @property
    def decode_steps(self) -> int:
        return self.generate_tokens - 1

    def to_dict(self) -> dict:
        """Plain data that :func:`workload_from_dict` rebuilds; the low-bit, sparsity and window
        keys appear only when set, so plain workloads keep their earlier form."""
        d = asdict(self)
        p = d["precision"]
        if p["weight_group_size"] is None and p["scale_dtype"] == "fp16":
            del p["weight_group_size"], p["scale_dtype"]
        if p["layer_weights"]:
            p["layer_weights"] = [dict(x) for x in p["layer_weights"]]
        else:
            del p["layer_weights"]
        for k in ("sparsity", "attention_window"):
            if d[k] is None:
                del d[k]
        if self.decoding == Decoding():
            d.pop("decoding")           # greedy: as before the decoding section existed
        return d


def load_workload(source, overrides=()) -> Workload:
    """Load a workload from a YAML path (or a ``dict``), applying ``--set`` style overrides."""
    if isinstance(source, Workload):
        if overrides:
            raise ConfigError("overrides need a workload file, not a Workload object")
        return source
    located = locate(source if isinstance(source, dict) else os.fspath(source), "workloads",
                     what="workload")
    located = apply_overrides(located, overrides)
    return from_located(Workload, located)


def workload_from_dict(data: dict) -> Workload:
    """Rebuild a workload from :meth:`Workload.to_dict` output (e.g. stored in a trace)."""
    return load_workload(data)
