"""Shape-aware GPU kernel terms: tiled GEMMs with tile and wave quantisation, split-K, L2 reuse.

A GEMM ``C[m, n] = A[m, k] B[k, n]`` (``batch`` independent ones for attention) runs as CTAs that
each own a ``tm x tn`` output tile, and optionally ``1/s`` of the reduction (split-K). What this
module models, after NVIDIA's *Matrix Multiplication Background User's Guide* (DU-09799-001,
2023), sections 2.3 and 3:

- **Tile quantisation**: a CTA computes a whole tile, so ``m`` and ``n`` are padded up to
  multiples of the tile (a 1-row decode GEMM pays for the tile's rows in compute, not in memory).
- **Wave quantisation**: the GPU runs ``sm_count`` CTAs at a time (one per SM: the large tensor-
  core tiles of the guide fill an SM); ``waves = ceil(CTAs / sm_count)`` and every wave costs a
  full tile's work at one SM's share of the peak, so a last, partial wave costs as much as a full
  one.
- **Split-K** (CUTLASS's ``GemmSplitKParallel`` / cuBLAS's split-K kernels): a skinny GEMM whose
  tiles cannot fill the SMs splits the reduction into ``s`` slices; partial sums go through a
  float32 workspace (written and read back once per slice).
- **Occupancy of the memory system**: a kernel with fewer CTAs than SMs drives only that fraction
  of them, and gets that fraction of the DRAM bandwidth (each SM's load units serve their own
  CTAs). This is what makes small decode GEMVs reach less of the peak bandwidth than large ones.
- **L2 reuse**: an operand that fits in half the L2 is read from DRAM once; a larger one is read
  once per *wave block* (the near-square block of tiles one wave covers, the rasterisation of
  CUTLASS's threadblock swizzle): ``A`` once per block column, ``B`` once per block row.

Among the configured tile shapes and split factors the one with the least time at the peaks is
taken, as cuBLAS's heuristics pick a kernel per shape (ties: the first tile listed, the fewest
slices). The terms are at 100% of the peaks; the roofline efficiencies
(:class:`~archsim.devices.gpu.Roofline`) scale them afterwards, so the plan does not depend on
them and ``archsim calibrate`` fits the efficiencies on fixed terms.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..config.schema import param, quantity

#: bytes of one float32 partial sum in the split-K workspace
_PARTIAL_BYTES = 4


@dataclass(frozen=True)
class KernelModel:
    """The GPU's parallel organisation and the tiles its GEMM library uses."""

    sm_count: int = param(min=1, doc="streaming multiprocessors (datasheet / whitepaper)")
    l2_cache_bytes: float = quantity("size", min=0, min_exclusive=True)
    gemm_tiles: tuple[str, ...] = param(doc="CTA tile shapes 'MxN' the GEMM library picks from")
    source: str = param(doc="where the SM count, L2 size and tile shapes come from")
    k_slice_min: int = param(default=128, min=1,
                             doc="least reduction length per split-K slice")
    split_k_max: int = param(default=16, min=1, doc="most split-K slices")
    split_kv_attention: bool = param(
        default=False, doc="attention kernels split over the KV length (FlashDecoding); false: "
        "batched GEMMs without split-K (torch.matmul on the KV cache)")

    def validate(self):
        for i, t in enumerate(self.gemm_tiles):
            if _parse_tile(t) is None:
                return (("gemm_tiles", i), f"tile {t!r}: expected 'MxN' with positive integers, "
                        "e.g. '128x128'")
        if not self.gemm_tiles:
            return (("gemm_tiles",), "expected at least one tile shape")
        return None

    def tiles(self) -> tuple:
        return tuple(_parse_tile(t) for t in self.gemm_tiles)


def _parse_tile(text: str):
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        return None
    return int(parts[0]), int(parts[1])


@dataclass(frozen=True)
class GemmPlan:
    """How one GEMM runs: the chosen tile, split and the resulting terms (seconds at peak)."""

    tile_m: int
    tile_n: int
    split_k: int
    ctas: int
    waves: int
    dram_bytes: float
    t_mem_s: float
    t_cmp_s: float

    @property
    def detail(self) -> dict:
        return {"tile": f"{self.tile_m}x{self.tile_n}", "split_k": self.split_k,
                "ctas": self.ctas, "waves": self.waves}


def _reread(operand_bytes: float, blocks: int, l2_bytes: float) -> float:
    """DRAM bytes of an operand read by ``blocks`` wave blocks (once if it fits in half the L2)."""
    return operand_bytes if operand_bytes <= l2_bytes / 2 else operand_bytes * blocks


def plan_gemm(m: int, n: int, k: int, *, batch: int, a_bytes: float, b_bytes: float,
              c_bytes: float, km: KernelModel, peak_flop_per_s: float, bandwidth_bytes_per_s: float,
              pad_m: bool = True, split_k: bool = True) -> GemmPlan:
    """The fastest (tile, split-K) plan of ``batch`` GEMMs ``[m, k] x [k, n]``.

    ``a_bytes``, ``b_bytes``, ``c_bytes``: the operands' and result's sizes over the whole batch.
    ``pad_m=False`` runs a one-row product without padding its rows to the tile (a GEMV kernel).
    """
    sms = km.sm_count
    per_sm_peak = peak_flop_per_s / sms
    best = None
    best_t = math.inf
    for tm, tn in km.tiles():
        tm_eff = tm if pad_m else min(tm, m)
        mt, nt = math.ceil(m / tm_eff), math.ceil(n / tn)
        tiles = batch * mt * nt
        splits = [1]
        if split_k:
            s = 2
            while s <= km.split_k_max and k / s >= km.k_slice_min:
                splits.append(s)
                s *= 2
        for s in splits:
            ctas = tiles * s
            waves = math.ceil(ctas / sms)
            kc = math.ceil(k / s)
            t_cmp = waves * 2.0 * tm_eff * tn * kc / per_sm_peak
            # wave block: a near-square block of (row, column) tiles per wave
            per_batch = max(1, min(ctas, sms) // max(batch, 1) // s)
            wm = max(1, min(mt, math.isqrt(per_batch)))
            wn = max(1, min(nt, per_batch // wm))
            dram = (_reread(a_bytes, math.ceil(nt / wn), km.l2_cache_bytes)
                    + _reread(b_bytes, math.ceil(mt / wm), km.l2_cache_bytes)
                    + c_bytes)
            if s > 1:
                dram += 2.0 * s * batch * m * n * _PARTIAL_BYTES
            occupancy = min(1.0, ctas / sms)
            t_mem = dram / (bandwidth_bytes_per_s * occupancy)
            t = max(t_mem, t_cmp)
            if t < best_t * (1 - 1e-12):
                best_t = t
                best = GemmPlan(tm_eff, tn, s, ctas, waves, dram, t_mem, t_cmp)
    return best
