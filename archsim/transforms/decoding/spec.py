"""The ``decoding:`` section of a workload: how tokens are decoded, as data.

A workload decodes greedily (one token per sequence per step) unless its ``decoding:`` section
names a strategy; :mod:`archsim.transforms.decoding` turns the analytic trace into the trace of
that strategy. Every parameter carries the paper it comes from; defaults are the papers'
settings where they give one, and a value a workload must state where they do not.

* ``speculative`` -- a draft model proposes ``k`` tokens, one forward pass each, and the target
  verifies them in one pass over ``k + 1`` positions (Leviathan, Kalman and Matias, "Fast
  Inference from Transformers via Speculative Decoding", ICML 2023; Chen et al., "Accelerating
  Large Language Model Decoding with Speculative Sampling", arXiv:2302.01318, 2023).
* ``medusa`` -- extra decoding heads propose a tree of candidates that the target verifies in
  one pass with tree attention (Cai et al., "Medusa: Simple LLM Inference Acceleration Framework
  with Multiple Decoding Heads", ICML 2024).
* ``skip_decode`` -- each generated position runs only the top layers of the model, fewer for
  later positions (Del Corro et al., "SkipDecode: Autoregressive Skip Decoding with Batching and
  Caching for Efficient LLM Inference", arXiv:2307.02628, 2023).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from ...config.schema import param
from ...model import ModelSpec


@dataclass(frozen=True)
class Speculative:
    """Draft-then-verify speculative decoding (Leviathan et al. 2023, Chen et al. 2023).

    ``acceptance`` is the probability that a draft token is accepted given that the ones
    before it were (Leviathan's alpha, i.i.d. over positions); ``acceptance_profile`` gives
    one probability per draft position instead. A verification then yields
    ``1 + sum_i prod_{j<=i} p_j`` tokens per sequence on average: ``(1 - a^(k+1)) / (1 - a)``
    for a constant ``a`` (Leviathan et al., eq. 1).
    """

    draft_model: ModelSpec = param(doc="the draft model: a model preset name or a mapping")
    k: int = param(default=4, min=1, doc="draft tokens per verification (Leviathan's gamma); "
                   "4: Chen et al. 2023's setting for Chinchilla 70B")
    acceptance: Optional[float] = param(default=None, min=0.0, max=1.0,
                                        doc="per-token acceptance rate alpha")
    acceptance_profile: Optional[tuple[float, ...]] = param(
        default=None, doc="acceptance probability of draft position 1..k, each given the "
        "previous ones accepted")
    source: Optional[str] = param(default=None, doc="where the acceptance figures come from")

    def validate(self):
        if (self.acceptance is None) == (self.acceptance_profile is None):
            return ((), "give either 'acceptance' (alpha in [0, 1]) or 'acceptance_profile' "
                    "(one probability per draft position)")
        if self.acceptance_profile is not None:
            if len(self.acceptance_profile) != self.k:
                return (("acceptance_profile",), f"expected {self.k} probabilities (one per "
                        f"draft position, k = {self.k}), got {len(self.acceptance_profile)}")
            for i, p in enumerate(self.acceptance_profile):
                if not 0.0 <= p <= 1.0:
                    return (("acceptance_profile", i), f"value {p!r} out of range: expected "
                            "an acceptance probability in [0, 1]")
        return None

    def position_probabilities(self) -> tuple:
        """Acceptance probability of each draft position given the previous ones accepted."""
        if self.acceptance_profile is not None:
            return tuple(self.acceptance_profile)
        return (self.acceptance,) * self.k

    def expected_tokens(self) -> float:
        """Expected tokens per sequence per verification, bonus token included."""
        total, run = 1.0, 1.0
        for p in self.position_probabilities():
            run *= p
            total += run
        return total


@dataclass(frozen=True)
class Medusa:
    """Medusa tree decoding (Cai et al. 2024).

    Each step the target runs ``tree_tokens`` query positions (the last accepted token and the
    candidates of the tree) with tree attention against the KV cache, and every Medusa head
    (a residual block ``d x d`` with SiLU, then its own ``d x vocab`` head) runs on every
    position. ``accepted_tokens`` is the mean number of tokens a step yields per sequence (the
    paper's "acceleration rate"); it depends on the heads and the data, so a workload states it
    with its source.
    """

    accepted_tokens: float = param(min=1.0, doc="tokens yielded per sequence per step")
    heads: int = param(default=5, min=1, doc="Medusa heads (5: the released Vicuna-7B heads)")
    tree_tokens: int = param(default=64, min=1, doc="query positions of the candidate tree, "
                             "root included (64: Medusa's 63-node tree for Vicuna-7B plus the "
                             "root)")
    head_layers: int = param(default=1, min=1, doc="residual blocks per head")
    source: Optional[str] = param(default=None)
    heads_kind: Literal["medusa", "hydra"] = param(
        default="medusa", doc="medusa: independent heads on the hidden state; hydra: each head "
        "also takes the embeddings of the tokens drafted before it (Ankner et al., arXiv "
        "2402.05109), so the heads run one after another")

    def validate(self):
        if self.accepted_tokens > self.heads + 1:
            return (("accepted_tokens",), f"value {self.accepted_tokens!r} out of range: a "
                    f"step yields at most heads + 1 = {self.heads + 1} tokens")
        if self.accepted_tokens > self.tree_tokens:
            return (("accepted_tokens",), f"a step yields at most tree_tokens = "
                    f"{self.tree_tokens} tokens")
        return None


@dataclass(frozen=True)
class SkipDecode:
    """SkipDecode layer skipping (Del Corro et al. 2023).

    Generated position ``i`` (1 for the first decode step) runs only the top ``n_i`` decoder
    layers, ``n_i`` non-increasing, so every layer a position runs has the KV of all earlier
    positions (the paper's reason for skipping the lower layers). ``layers_per_position``
    lists ``n_i`` (the last value repeats); otherwise ``n_i`` falls linearly from
    ``max_layers`` at the first decode step to ``min_layers`` at the last (the paper's linear
    decay). The prefill runs every layer.
    """

    max_layers: Optional[int] = param(default=None, min=1)
    min_layers: Optional[int] = param(default=None, min=1)
    layers_per_position: Optional[tuple[int, ...]] = param(default=None)
    source: Optional[str] = param(default=None)

    def validate(self):
        if self.layers_per_position is not None:
            if self.max_layers is not None or self.min_layers is not None:
                return ((), "give either 'layers_per_position' or 'max_layers' and "
                        "'min_layers', not both")
            if not self.layers_per_position:
                return (("layers_per_position",), "expected at least one layer count")
            prev = None
            for i, n in enumerate(self.layers_per_position):
                if n < 1:
                    return (("layers_per_position", i), f"value {n!r} out of range: "
                            "expected >= 1")
                if prev is not None and n > prev:
                    return (("layers_per_position", i), "layer counts must not increase "
                            "(a later position may not need KV an earlier one skipped)")
                prev = n
            return None
        if self.max_layers is None or self.min_layers is None:
            return ((), "give 'max_layers' and 'min_layers', or 'layers_per_position'")
        if self.min_layers > self.max_layers:
            return (("min_layers",), f"min_layers {self.min_layers} exceeds max_layers "
                    f"{self.max_layers}")
        return None

    def layers_at(self, i: int, decode_steps: int) -> int:
        """Layers run by decode step ``i`` (1-based) of ``decode_steps``."""
        if self.layers_per_position is not None:
            p = self.layers_per_position
            return p[min(i, len(p)) - 1]
        hi, lo = self.max_layers, self.min_layers
        if decode_steps <= 1:
            return hi
        return hi - (hi - lo) * (i - 1) // (decode_steps - 1)


@dataclass(frozen=True)
class Superposed:
    """Superposed decoding (Shen et al., "Superposed Decoding: Multiple Generations from a
    Single Autoregressive Inference Pass", NeurIPS 2024): ``drafts`` generations share one
    forward pass per step, whose input is the weighted sum of the drafts' last-token
    embeddings; each step yields one token for every draft."""

    drafts: int = param(default=3, min=2, doc="generations per pass (3: the paper's setting)")
    source: Optional[str] = param(default=None)


@dataclass(frozen=True)
class Gear:
    """GEAR KV-cache compression (Kang et al., "GEAR: An Efficient KV Cache Compression Recipe
    for Near-Lossless Generative Inference of LLM", arXiv:2403.05527, 2024), on top of the
    workload's ``kv_cache`` dtype (the quantised backbone).

    Each layer's K and V matrix of a sequence (``n`` tokens x ``d = kv_heads x head_dim``)
    also carries a low-rank residual ``A (n x r) B^T (d x r)`` in fp16 with
    ``r = ceil(rank_ratio x min(n, d))``, and the ``outlier_fraction`` largest entries as a
    sparse matrix of fp16 values and int32 indices (the paper's storage).
    """

    method: Literal["gear"] = param(default="gear")
    rank_ratio: float = param(default=0.02, min=0.0, max=1.0,
                              doc="r / min(n, d): 2-5% in the paper; 2% here")
    outlier_fraction: float = param(default=0.02, min=0.0, max=1.0,
                                    doc="sparse outliers s: the paper's default 2%")
    buffer_tokens: int = param(default=64, min=1, doc="new entries wait uncompressed in a "
                               "buffer of this many tokens (the authors' run scripts: "
                               "streaming gap 64)")
    power_iterations: int = param(default=3, min=1, doc="power iterations of the low-rank "
                                  "residual (the authors' run scripts: loop 3)")
    source: Optional[str] = param(default=None)


@dataclass(frozen=True)
class Decoding:
    """A workload's decoding strategy (``strategy: greedy`` by default)."""

    strategy: Literal["greedy", "speculative", "medusa", "superposed"] = param(
        default="greedy")
    speculative: Optional[Speculative] = param(default=None)
    medusa: Optional[Medusa] = param(default=None)
    superposed: Optional[Superposed] = param(default=None)
    skip_decode: Optional[SkipDecode] = param(default=None)
    kv_compression: Optional[Gear] = param(default=None, doc="KV-cache compression extras "
                                           "(GEAR), with any strategy")

    def validate(self):
        for name in ("speculative", "medusa", "superposed"):
            if self.strategy == name and getattr(self, name) is None:
                return ((name,), f"strategy {name!r} needs a '{name}:' section")
            if self.strategy != name and getattr(self, name) is not None:
                return ((name,), f"a '{name}:' section with strategy {self.strategy!r}: set "
                        f"strategy: {name}, or remove the section")
        if self.skip_decode is not None and self.strategy != "greedy":
            return (("skip_decode",), "skip_decode is modelled with greedy decoding only "
                    f"(not with {self.strategy!r})")
        return None

    @property
    def is_greedy(self) -> bool:
        """Plain decoding: greedy, no layer skipping, no KV compression."""
        return (self.strategy == "greedy" and self.skip_decode is None
                and self.kv_compression is None)

    def check(self, w) -> tuple | None:
        """``(key path under the workload, message)`` if ``w`` cannot decode this way."""
        m, last = w.model, w.prompt_tokens + w.generate_tokens - 1
        if self.speculative is not None:
            s, d = self.speculative, self.speculative.draft_model
            key = ("decoding", "speculative")
            if d.parameter_count() > m.parameter_count():
                return (key + ("draft_model",), f"the draft model {d.name} "
                        f"({d.parameter_count() / 1e9:.2f}B parameters) is larger than the "
                        f"target {m.name} ({m.parameter_count() / 1e9:.2f}B)")
            if d.vocab_size != m.vocab_size:
                return (key + ("draft_model",), f"the draft model's vocabulary "
                        f"({d.vocab_size}) differs from the target's ({m.vocab_size}): "
                        "draft tokens could not be verified")
            for who, mm in (("target", m), ("draft", d)):
                if last + s.k > mm.max_positions:
                    return (key + ("k",), f"verifying k = {s.k} draft tokens reaches "
                            f"position {last + s.k}, beyond the {who} model's max_positions "
                            f"{mm.max_positions}")
        if self.medusa is not None:
            t = self.medusa.tree_tokens
            if last - 1 + t > m.max_positions:
                return (("decoding", "medusa", "tree_tokens"), f"a tree of {t} tokens on a "
                        f"context of up to {last - 1} tokens exceeds the model's "
                        f"max_positions {m.max_positions}")
        if self.skip_decode is not None:
            sk = self.skip_decode
            top = sk.layers_per_position[0] if sk.layers_per_position else sk.max_layers
            if top > m.num_layers:
                return (("decoding", "skip_decode"), f"{top} layers per position exceeds the "
                        f"model's {m.num_layers} layers")
        return None
