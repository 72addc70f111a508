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
class Precision:
    """Data types of weights, activations and the KV cache."""

    weights: str = param(default="fp16")
    activations: str = param(default="fp16")
    kv_cache: str = param(default="fp16")

    def validate(self):
        for k in ("weights", "activations", "kv_cache"):
            v = getattr(self, k)
            if v not in DTYPE_BITS:
                return ((k,), f"unknown dtype {v!r}: expected one of {', '.join(_DTYPES)}")
        return None


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
    decoding: Decoding = param(default_factory=Decoding, doc="decoding strategy "
                               "(archsim.transforms.decoding; docs/decoding.md)")
    name: str | None = param(default=None)
    description: str | None = param(default=None)

    def validate(self):
        total = self.prompt_tokens + self.generate_tokens - 1
        if total > self.model.max_positions:
            return (("generate_tokens",), f"prompt_tokens + generate_tokens - 1 = {total} exceeds "
                    f"the model's max_positions {self.model.max_positions}")
        return self.decoding.check(self)

    @property
    def decode_steps(self) -> int:
        return self.generate_tokens - 1

    def to_dict(self) -> dict:
        d = asdict(self)
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
