"""An FPGA engine design as data: the part, compute engines, on-chip buffers, HBM allocation,
energy, and the resource check that rejects a design the part cannot hold.

The part (:class:`FpgaPart`) lists what the device offers: DSP slices, LUTs, BRAM36 and URAM
blocks, the HBM pseudo-channels and the shell's (platform's) reservation. A design
(:class:`FpgaConfig` in :mod:`archsim.devices.fpga`) places engines on it:

* :class:`MatrixUnit`: a matrix-vector (``mv``) or matrix-matrix (``mm``) array of
  ``tile = [m, n, k]`` lanes (one ``m x k`` by ``k x n`` tile product per step, ``m = 1`` for
  MV), ``cores`` copies, counted at ``lanes_dtype`` weights. A DSP48E2 does
  ``dsp_packing[dtype]`` low-bit multiplies per cycle (INT8 x INT8: 2 with a shared operand,
  AMD WP486; 4-bit: 4, Sommer et al., arXiv 2203.11028), so the array needs
  ``cores x m n k / dsp_packing[lanes_dtype]`` DSPs and runs ``dsp x dsp_packing[w]`` MACs per
  cycle at weight dtype ``w``. A dtype without a packing entry is one the engine cannot do.
* :class:`SpecialUnit`: softmax, norms, activations, RoPE and element-wise ops at
  ``elements_per_cycle``, ``two_pass`` kinds taking two passes.
* :class:`Buffers`: on-chip activation, weight and KV tile buffers, in URAM (36 KiB per block)
  or BRAM36 (4.5 KiB per block).
* :class:`HbmAllocation`: how many pseudo-channels the weights and the KV cache (and spilled
  activations) are spread over.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Optional

from ..config.schema import param, quantity
from ..dtypes import DTYPE_BITS

#: on-chip memory block capacities (UltraScale+ architecture, AMD UG573: BRAM36 = 36 Kb,
#: URAM = 288 Kb)
BRAM36_BYTES = 36 * 1024 // 8
URAM_BYTES = 288 * 1024 // 8

RESOURCES = ("dsp", "lut", "bram36", "uram")


@dataclass(frozen=True)
class ResourceUse:
    """Resources taken (by the shell, or by an engine's control logic)."""

    dsp: int = param(default=0, min=0)
    lut: int = param(default=0, min=0)
    bram36: float = param(default=0, min=0)
    uram: int = param(default=0, min=0)
    source: Optional[str] = param(default=None)


@dataclass(frozen=True)
class FpgaPart:
    """An FPGA card: fabric resources, HBM, power limit (``extends:`` a preset of
    ``archsim/presets/fpga``, e.g. ``alveo_u280``)."""

    _preset_category = "fpga"

    name: str = param()
    source: str = param()
    dsp: int = param(min=1, doc="DSP48E2 slices")
    lut: int = param(min=1)
    bram36: int = param(min=0)
    uram: int = param(min=0)
    hbm: str = param(doc="HBM spec: a preset of archsim/presets/fpga or a .yaml path")
    hbm_stacks: int = param(min=1)
    hbm_pseudo_channels: int = param(min=1)
    hbm_capacity_bytes: float = quantity("size", min=0, min_exclusive=True)
    hbm_bandwidth_bytes_per_s: float = quantity("bandwidth", min=0, min_exclusive=True,
                                                doc="datasheet peak (the spec must agree)")
    max_power_w: float = quantity("power", min=0, min_exclusive=True)
    shell: ResourceUse = param(default_factory=ResourceUse, doc="reserved by the platform")

    def validate(self):
        if self.hbm_pseudo_channels % self.hbm_stacks:
            return (("hbm_pseudo_channels",), f"{self.hbm_pseudo_channels} pseudo-channels do "
                    f"not divide evenly over {self.hbm_stacks} stacks")
        return None


@dataclass(frozen=True)
class MatrixUnit:
    """A matrix-vector or matrix-matrix array (module docstring)."""

    tile: tuple[int, ...] = param(doc="[m, n, k] lanes; m = 1 for a matrix-vector unit")
    dsp_packing: dict[str, int] = param(doc="weight dtype -> multiplies per DSP48E2 per cycle "
                                        "(INT8 activations)")
    lanes_dtype: str = param(doc="weight dtype the tile's lane count is given at")
    packing_source: str = param()
    cores: int = param(default=1, min=1)
    activation_dtype: str = param(default="int8", doc="the activations the packing assumes; "
                                  "ops with other activations are refused")
    sparse_nm: tuple[str, ...] = param(default=(), doc="N:M patterns whose zeros it skips "
                                       "(e.g. '2:4'); other sparse weights are refused")
    pipeline_cycles: int = param(default=0, min=0, doc="fill + drain per op")
    lut: int = param(default=0, min=0, doc="control, accumulators, sparse muxes")
    source: Optional[str] = param(default=None)

    def validate(self):
        if len(self.tile) != 3 or any(not isinstance(t, int) or t < 1 for t in self.tile):
            return (("tile",), f"expected [m, n, k], three positive integers, got "
                    f"{list(self.tile)}")
        for dt, p in self.dsp_packing.items():
            if dt not in DTYPE_BITS:
                return (("dsp_packing", dt), f"unknown dtype {dt!r}")
            if not isinstance(p, int) or p < 1:
                return (("dsp_packing", dt), f"expected a positive integer, got {p!r}")
        if self.activation_dtype not in DTYPE_BITS:
            return (("activation_dtype",), f"unknown dtype {self.activation_dtype!r}")
        if self.lanes_dtype not in self.dsp_packing:
            return (("lanes_dtype",), f"{self.lanes_dtype!r} has no dsp_packing entry")
        for i, s in enumerate(self.sparse_nm):
            parts = str(s).split(":")
            if len(parts) != 2 or not all(p.isdigit() for p in parts) or \
                    int(parts[0]) >= int(parts[1]):
                return (("sparse_nm", i), f"expected 'N:M' with N < M, got {s!r}")
        return None

    @property
    def lanes(self) -> int:
        m, n, k = self.tile
        return m * n * k

    @property
    def dsp(self) -> int:
        return self.cores * math.ceil(self.lanes / self.dsp_packing[self.lanes_dtype])

    def macs_per_cycle(self, dtype: str) -> int:
        """MACs per cycle of all cores at weight dtype ``dtype`` (KeyError if it cannot)."""
        return self.dsp * self.dsp_packing[dtype]


@dataclass(frozen=True)
class SpecialUnit:
    """Special-function unit: softmax, norms, activations, RoPE, element-wise."""

    elements_per_cycle: int = param(min=1)
    two_pass: tuple[str, ...] = param(default=("softmax", "norm"),
                                      doc="op kinds that read their input twice")
    cores: int = param(default=1, min=1)
    pipeline_cycles: int = param(default=0, min=0)
    dsp: int = param(default=0, min=0)
    lut: int = param(default=0, min=0)
    source: Optional[str] = param(default=None)


@dataclass(frozen=True)
class Buffer:
    """An on-chip buffer and the memory blocks it is built from."""

    size_bytes: float = quantity("size", min=0)
    memory: Literal["uram", "bram36"] = param(default="uram")

    @property
    def blocks(self) -> int:
        return math.ceil(self.size_bytes / (URAM_BYTES if self.memory == "uram"
                                            else BRAM36_BYTES))


@dataclass(frozen=True)
class Buffers:
    """On-chip buffers: activations (always on chip in decode while they fit), double-buffered
    weight tiles, KV tiles."""

    activations: Buffer = param()
    weights: Buffer = param()
    kv: Buffer = param()
    source: Optional[str] = param(default=None)


@dataclass(frozen=True)
class HbmAllocation:
    """Pseudo-channels given to each tensor class (disjoint: the streams run in parallel)."""

    weights: int = param(min=1)
    kv: int = param(min=1, doc="KV cache, and activations that spill off chip")
    kv_layout: Literal["head_major", "token_major"] = param(
        default="head_major", doc="head_major: one head's tokens contiguous (a sequential "
        "read); token_major: all heads of a token contiguous, read one head at a time")
    source: Optional[str] = param(default=None)


@dataclass(frozen=True)
class FpgaEnergy:
    """Energy per counted action and static power (HBM energy comes from the DRAM core)."""

    static_power_w: float = quantity("power", min=0, doc="board power when idle")
    dsp_op_j: float = quantity("energy", min=0, key="dsp_op",
                               doc="one DSP48E2 operation (its packed multiplies)")
    onchip_j_per_bit: float = quantity("energy_per_bit", min=0, key="onchip",
                                       doc="BRAM/URAM read or write")
    sfu_op_j: float = quantity("energy", min=0, key="sfu_op", doc="one SFU element-pass")
    source: str = param()


def resource_use(part: FpgaPart, units: dict, sfu: SpecialUnit, buffers: Buffers) -> dict:
    """Resources the design takes, shell included: ``{resource: amount}``."""
    use = {r: getattr(part.shell, r) for r in RESOURCES}
    for u in units.values():
        if u is not None:
            use["dsp"] += u.dsp
            use["lut"] += u.lut
    use["dsp"] += sfu.dsp * sfu.cores
    use["lut"] += sfu.lut * sfu.cores
    for b in (buffers.activations, buffers.weights, buffers.kv):
        use["uram" if b.memory == "uram" else "bram36"] += b.blocks
    return use


def check_resources(part: FpgaPart, units: dict, sfu: SpecialUnit, buffers: Buffers,
                    hbm: HbmAllocation):
    """``None``, or ``(key path, message)`` naming the first resource the design exceeds."""
    use = resource_use(part, units, sfu, buffers)
    for r in RESOURCES:
        have = getattr(part, r)
        if use[r] > have:
            detail = ", ".join(f"{n} {_unit_use(u, r)}" for n, u in units.items()
                               if u is not None and _unit_use(u, r))
            return ((), f"the design needs {use[r]:g} {r.upper()} but the part "
                    f"{part.name} has {have} (shell {getattr(part.shell, r):g}"
                    + (f"; {detail}" if detail else "") + ")")
    pcs = hbm.weights + hbm.kv
    if pcs > part.hbm_pseudo_channels:
        return (("hbm",), f"the design uses {pcs} HBM pseudo-channels ({hbm.weights} weights + "
                f"{hbm.kv} kv) but the part {part.name} has {part.hbm_pseudo_channels}")
    return None


def _unit_use(u: MatrixUnit, r: str) -> int:
    return {"dsp": u.dsp, "lut": u.lut}.get(r, 0)
