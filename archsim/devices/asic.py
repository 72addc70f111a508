"""A small accelerator ASIC: vector lanes plus on-chip SRAM (e.g. the PIM-GPT controller chip).

An op takes ``latency + max(ceil(flops / lanes), ceil(sram_bytes / sram_bytes_per_cycle))``
cycles: the vector lanes do one arithmetic operation each per cycle (the FLOP conventions of
:mod:`archsim.trace.counting`, transcendentals included as one operation each, which a
Taylor-series unit pipelines), operands stream through on-chip SRAM. A weight-only low-bit matmul
(INT4 weights, FP16 activations) also dequantises every stored weight on the same lanes
(:mod:`archsim.trace.dequant`: unpack, convert, scale), added to its lane operations. Energy per lane operation and
per SRAM byte, plus static power.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..config.schema import param, quantity
from ..trace.dequant import dequant_ops
from ..trace.formats import refuse_sparse
from ..trace.schema import Op
from .base import Device, OpCost, register_device
from .common import DeviceCost


@dataclass(frozen=True)
class AsicEnergy:
    lane_op_j_per_flop: float = quantity("energy_per_flop", min=0)
    sram_j_per_bit: float = quantity("energy_per_bit", min=0)
    static_power_w: float = quantity("power", min=0)
    source: str = param()


@dataclass(frozen=True)
class AsicConfig:
    """Vector lanes, clock, SRAM and energy of an ASIC."""

    kind: Literal["asic"] = param()
    name: str = param()
    source: str = param()
    clock_hz: float = quantity("frequency", min=0, min_exclusive=True)
    vector_lanes: int = param(min=1)
    sram_capacity_bytes: float = quantity("size", min=0)
    sram_bytes_per_cycle: int = param(min=1)
    energy: AsicEnergy = param()
    op_latency_cycles: int = param(default=0, min=0, doc="pipeline fill per op")
    cost: DeviceCost = param(default_factory=DeviceCost)


@register_device
class Asic(Device):
    """Vector-lane ASIC with on-chip SRAM (see module docstring)."""

    kind = "asic"
    Config = AsicConfig

    def op_cost(self, op: Op) -> OpCost:
        c = self.config
        if op.attrs and "sparsity" in op.attrs:
            refuse_sparse(op, self.name, self.kind, "its vector lanes have no index decoder to "
                          "skip zero weights")
        moved = op.bytes_read + op.bytes_written
        lane_ops = op.flops + dequant_ops(op)
        compute = math.ceil(lane_ops / c.vector_lanes)
        memory = math.ceil(moved / c.sram_bytes_per_cycle)
        cycles = c.op_latency_cycles + max(compute, memory)
        return OpCost(math.ceil(cycles * 1e12 / c.clock_hz),
                      {"lane_op": lane_ops, "sram_byte": moved, "cycles": cycles},
                      {"bound": "compute" if compute >= memory else "sram"})

    def energy_table(self) -> dict:
        e = self.config.energy
        return {"lane_op": e.lane_op_j_per_flop * 1e12, "sram_byte": e.sram_j_per_bit * 8e12}

    def static_power_w(self) -> float:
        return self.config.energy.static_power_w

    def informational_actions(self) -> frozenset:
        return frozenset({"cycles"})
