"""Decoder-only transformers built from a :class:`~archsim.model.ModelSpec`, op by op.

One method call per analytic op (names as in :func:`archsim.trace.generate.step_ops`), each inside
``record_function("archsim::<name>")``. The computation of each op is the one the analytic trace
counts: a fused QKV projection whose K and V go into the KV cache, dense attention (score matmul,
scaled and masked softmax, context matmul; no SDPA or flash kernels), one fused gate+up matmul for
gated FFNs, the LM head on the last position of each sequence only, and argmax sampling.

Weights are drawn from a normal distribution (std 0.02, norms at 1/0) with a fixed seed: the
timing of a kernel does not depend on the values of its operands, and nothing is downloaded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from ..model import ModelSpec
from . import ANNOTATION_PREFIX, require_torch

_TORCH_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def torch_dtype(name: str):
    """The torch dtype of an archsim dtype name (fp32, fp16, bf16)."""
    torch = require_torch()
    if name not in _TORCH_DTYPES:
        raise ConfigError(f"the reference implementation computes in fp32, fp16 or bf16, not "
                          f"{name!r}", key="precision")
    return getattr(torch, _TORCH_DTYPES[name])


@dataclass
class KVCache:
    """Per-layer K and V tensors ``[batch, kv_heads, max_len, head_dim]``."""

    k: list
    v: list
    max_len: int


class ReferenceModel:
    """Random-weight decoder-only model on ``device`` computing in ``dtype``.

    Parameters
    ----------
    spec : ModelSpec
    dtype : str
        fp32, fp16 or bf16; used for weights, activations and the KV cache alike.
    device : str
        ``"cuda"``, ``"cuda:1"``, ``"cpu"``...
    seed : int
        Seed of the weight initialisation.
    max_len : int, optional
        Longest sequence (prompt + generated) to support; defaults to ``spec.max_positions``.
    """

    def __init__(self, spec: ModelSpec, *, dtype: str = "fp32", device: str = "cpu",
                 seed: int = 0, max_len: int | None = None) -> None:
        torch = require_torch()
        self.torch = torch
        self.F = torch.nn.functional
        self.spec = spec
        self.dtype = torch_dtype(dtype)
        self.device = torch.device(device)
        self.max_len = max_len or spec.max_positions
        m = spec
        d, hd, H, KV, f, V = (m.hidden_size, m.dim_head, m.num_heads, m.kv_heads, m.ffn_size,
                              m.vocab_size)
        g = torch.Generator(device=self.device).manual_seed(seed)
        kw = {"device": self.device, "dtype": self.dtype}

        def rnd(*shape):
            return torch.randn(*shape, generator=g, **kw) * 0.02

        def bias(n):
            return rnd(n) if m.bias else None

        def norm():
            return (torch.ones(d, **kw),
                    torch.zeros(d, **kw) if m.norm == "layernorm" else None)

        self.wte = rnd(V, d)
        self.wpe = rnd(m.max_positions, d) if m.position == "learned" else None
        self.layers = []
        up = f * (2 if m.ffn_kind == "gated" else 1)
        for _ in range(m.num_layers):
            self.layers.append({
                "norm1": norm(), "wqkv": rnd((H + 2 * KV) * hd, d), "bqkv": bias((H + 2 * KV) * hd),
                "wo": rnd(d, H * hd), "bo": bias(d), "norm2": norm(),
                "wup": rnd(up, d), "bup": bias(up), "wdown": rnd(d, f), "bdown": bias(d)})
        self.final_norm = norm()
        self.lm_head = self.wte if m.tied_embeddings else rnd(V, d)
        if m.position == "rope":
            inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, device=self.device,
                                                  dtype=torch.float32) / hd))
            ang = torch.outer(torch.arange(self.max_len, device=self.device,
                                           dtype=torch.float32), inv)
            ang = torch.cat([ang, ang], dim=-1)
            self.cos, self.sin = ang.cos().to(self.dtype), ang.sin().to(self.dtype)

    # -- cache ---------------------------------------------------------------------------------
    def new_cache(self, batch: int, max_len: int | None = None) -> KVCache:
        n = max_len or self.max_len
        m = self.spec
        shape = (batch, m.kv_heads, n, m.dim_head)
        kw = {"device": self.device, "dtype": self.dtype}
        return KVCache([self.torch.zeros(shape, **kw) for _ in range(m.num_layers)],
                       [self.torch.zeros(shape, **kw) for _ in range(m.num_layers)], n)

    # -- ops -----------------------------------------------------------------------------------
    def _norm(self, x, wb):
        d = self.spec.hidden_size
        if self.spec.norm == "layernorm":
            return self.F.layer_norm(x, (d,), wb[0], wb[1], eps=1e-5)
        return self.F.rms_norm(x, (d,), wb[0], eps=1e-6)

    def _rotate(self, x, cos, sin):
        half = x.shape[-1] // 2
        rot = self.torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rot * sin

    def forward(self, ids, cache: KVCache, pos: int):
        """Process ``ids`` ``[batch, T]`` at positions ``pos .. pos+T-1``.

        Returns ``(next_tokens [batch], logits [batch, vocab])`` for the last position.
        """
        torch, F, m = self.torch, self.F, self.spec
        rf = torch.profiler.record_function
        P = ANNOTATION_PREFIX
        B, T = ids.shape
        C = pos + T
        if C > cache.max_len:
            raise ConfigError(f"sequence length {C} exceeds the KV cache ({cache.max_len})")
        H, KV, hd = m.num_heads, m.kv_heads, m.dim_head
        G = H // KV
        scale = 1.0 / math.sqrt(hd)
        with rf(P + "embed"):
            x = F.embedding(ids, self.wte)
            if self.wpe is not None:
                x = x + self.wpe[pos:C]
        mask = None
        if T > 1:  # causal mask over [T, C]: query t sees keys 0 .. pos + t
            q_pos = torch.arange(pos, C, device=self.device)[:, None]
            mask = torch.arange(C, device=self.device)[None, :] > q_pos
        for i, L in enumerate(self.layers):
            n = f"{P}L{i}."
            with rf(n + "norm1"):
                h = self._norm(x, L["norm1"])
            with rf(n + "qkv_proj"):
                qkv = F.linear(h, L["wqkv"], L["bqkv"])
                q, k, v = qkv.split([H * hd, KV * hd, KV * hd], dim=-1)
                cache.k[i][:, :, pos:C] = k.view(B, T, KV, hd).transpose(1, 2)
                cache.v[i][:, :, pos:C] = v.view(B, T, KV, hd).transpose(1, 2)
            q = q.view(B, T, H, hd).transpose(1, 2)  # [B, H, T, hd], a view
            if m.position == "rope":
                with rf(n + "rope"):
                    cos, sin = self.cos[pos:C], self.sin[pos:C]
                    q = self._rotate(q, cos, sin)
                    kn = cache.k[i][:, :, pos:C]
                    kn.copy_(self._rotate(kn, cos, sin))
            kc, vc = cache.k[i][:, :, :C], cache.v[i][:, :, :C]
            with rf(n + "attn_score"):
                # query heads of one KV group side by side: no copy of K for GQA
                s = torch.matmul(q.reshape(B, KV, G * T, hd), kc.transpose(-1, -2))
            with rf(n + "softmax"):
                s = s.view(B, KV, G, T, C) * scale
                if mask is not None:
                    s = s.masked_fill(mask, float("-inf"))
                p = torch.softmax(s, dim=-1).view(B, KV, G * T, C)
            with rf(n + "attn_context"):
                a = torch.matmul(p, vc).view(B, H, T, hd).transpose(1, 2).reshape(B, T, H * hd)
            with rf(n + "out_proj"):
                a = F.linear(a, L["wo"], L["bo"])
            with rf(n + "residual1"):
                x = x + a
            with rf(n + "norm2"):
                h = self._norm(x, L["norm2"])
            with rf(n + "ffn_up"):
                u = F.linear(h, L["wup"], L["bup"])
            with rf(n + "act"):
                if m.ffn_kind == "gated":
                    gate, up = u.chunk(2, dim=-1)
                    u = self._act(gate) * up
                else:
                    u = self._act(u)
            with rf(n + "ffn_down"):
                u = F.linear(u, L["wdown"], L["bdown"])
            with rf(n + "residual2"):
                x = x + u
        last = x[:, -1]
        with rf(P + "final_norm"):
            h = self._norm(last, self.final_norm)
        with rf(P + "lm_head"):
            logits = F.linear(h, self.lm_head)
        with rf(P + "sample"):
            nxt = logits.argmax(dim=-1)
        return nxt, logits

    def _act(self, u):
        a = self.spec.activation
        if a == "gelu":
            return self.F.gelu(u, approximate="tanh")
        if a == "relu":
            return self.F.relu(u)
        return self.F.silu(u)
