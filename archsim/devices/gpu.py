"""GPU device: a per-op roofline with achievable efficiencies and a per-kernel launch overhead.

Each op is one kernel. Its time is ``launch_overhead + max(flops / (peak * compute_efficiency),
bytes / (bandwidth * bandwidth_efficiency))`` where the peak is the tensor-core rate of the op's
dtype for matmuls and attention, and the vector (CUDA-core) rate for element-wise kernels. Every
parameter lives in the YAML preset so that ``archsim calibrate`` can fit it from measured traces;
efficiencies may be given per op kind.

Energy is priced per action: tensor and vector FLOPs, and DRAM bytes, plus idle power over time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config.schema import param, quantity
from ..errors import ConfigError
from ..trace.formats import refuse_sparse
from ..trace.schema import ATTENTION_KINDS, MATMUL_KINDS, OP_KINDS, Op, OpKind
from ..units import seconds_to_ps
from .base import Device, OpCost, register_device
from .common import DeviceCost



@dataclass(frozen=True)
class KindEfficiency:
    """Per-op-kind overrides of the roofline efficiencies and launch overhead."""

    bandwidth_efficiency: float | None = param(default=None, min=0.0, max=1.0, min_exclusive=True)
    compute_efficiency: float | None = param(default=None, min=0.0, max=1.0, min_exclusive=True)
    launch_overhead_s: float | None = quantity("time", default=None, min=0)


@dataclass(frozen=True)
class Roofline:
    """Achievable fractions of the peaks, per-kernel overhead, and their provenance."""

    bandwidth_efficiency: float = param(min=0.0, max=1.0, min_exclusive=True)
    compute_efficiency: float = param(min=0.0, max=1.0, min_exclusive=True)
    launch_overhead_s: float = quantity("time", min=0)
    source: str = param(doc="where the efficiencies come from (measurement, paper, assumption)")
    per_kind: dict[str, KindEfficiency] = param(default_factory=dict)

    def validate(self):
        for k in self.per_kind:
            if k not in OP_KINDS:
                return (("per_kind", k), f"unknown op kind {k!r}; expected one of "
                        + ", ".join(OP_KINDS))
        return None


@dataclass(frozen=True)
class GpuEnergy:
    """Energy per action and idle power."""

    tensor_flop_j_per_flop: float = quantity("energy_per_flop", min=0)
    vector_flop_j_per_flop: float = quantity("energy_per_flop", min=0)
    dram_j_per_bit: float = quantity("energy_per_bit", min=0)
    idle_power_w: float = quantity("power", min=0)
    source: str = param()


@dataclass(frozen=True)
class GpuConfig:
    """A GPU preset: peaks from the datasheet, efficiencies to be calibrated."""

    kind: Literal["gpu"] = param()
    name: str = param()
    source: str = param(doc="datasheet the peaks come from")
    memory_capacity_bytes: float = quantity("size", min=0, min_exclusive=True)
    memory_bandwidth_bytes_per_s: float = quantity("bandwidth", min=0, min_exclusive=True)
    tensor_peak: dict[str, str] = param(doc="dtype -> dense tensor-core rate, e.g. fp16: 312 TFLOPS")
    vector_peak: dict[str, str] = param(doc="dtype -> CUDA-core rate for element-wise kernels")
    tdp_w: float = quantity("power", min=0, min_exclusive=True)
    roofline: Roofline = param()
    energy: GpuEnergy = param()
    cost: DeviceCost = param(default_factory=DeviceCost)

    def validate(self):
        from ..dtypes import DTYPE_BITS
        from ..units import parse_quantity
        for table in ("tensor_peak", "vector_peak"):
            for dt, v in getattr(self, table).items():
                if dt not in DTYPE_BITS:
                    return ((table, dt), f"unknown dtype {dt!r}")
                try:
                    parse_quantity(v, "compute")
                except ConfigError as e:
                    return ((table, dt), e.message)
        return None


@register_device
class Gpu(Device):
    """Roofline GPU (see module docstring)."""

    kind = "gpu"
    Config = GpuConfig

    def __init__(self, name: str, config: GpuConfig) -> None:
        super().__init__(name, config)
        from ..units import parse_quantity
        self._tensor = {k: parse_quantity(v, "compute") for k, v in config.tensor_peak.items()}
        self._vector = {k: parse_quantity(v, "compute") for k, v in config.vector_peak.items()}

    def _peak(self, table: dict, dtype: str, what: str, op: Op) -> float:
        rate = table.get(dtype)
        if rate is None:
            raise ConfigError(f"{self.config.name} has no {what} rate for dtype {dtype!r} "
                              f"(op {op.name}; has {', '.join(table)})",
                              key=f"devices.{self.name}")
        return rate

    def kind_params(self, kind: OpKind) -> tuple:
        """``(bandwidth_efficiency, compute_efficiency, launch_overhead_s)`` for op ``kind``."""
        r = self.config.roofline
        k = r.per_kind.get(kind.value)
        be = k.bandwidth_efficiency if k and k.bandwidth_efficiency else r.bandwidth_efficiency
        ce = k.compute_efficiency if k and k.compute_efficiency else r.compute_efficiency
        lo = k.launch_overhead_s if k and k.launch_overhead_s is not None else r.launch_overhead_s
        return be, ce, lo

    def roofline_terms(self, op: Op) -> tuple:
        """``(t_mem, t_cmp)`` in seconds at 100% efficiency: bytes / peak bandwidth and
        FLOPs / peak rate (tensor rate for matmuls and attention, vector rate otherwise)."""
        if op.attrs and "sparsity" in op.attrs:
            refuse_sparse(op, self.name, self.kind, "the roofline has no sparse tensor-core "
                          "rate; dense and sparse kernels differ in more than FLOPs")
        tensor = op.kind in MATMUL_KINDS or op.kind in ATTENTION_KINDS
        peak = self._peak(self._tensor if tensor else self._vector, op.dtype,
                          "tensor" if tensor else "vector", op)
        moved = op.bytes_read + op.bytes_written
        return moved / self.config.memory_bandwidth_bytes_per_s, op.flops / peak

    def kernel_time_s(self, op: Op) -> float:
        """Roofline kernel time ``max(t_mem / be, t_cmp / ce)``, without launch overhead."""
        t_mem, t_cmp = self.roofline_terms(op)
        be, ce, _ = self.kind_params(op.kind)
        return max(t_mem / be, t_cmp / ce)

    def op_cost(self, op: Op) -> OpCost:
        t_mem, t_cmp = self.roofline_terms(op)
        be, ce, launch = self.kind_params(op.kind)
        tensor = op.kind in MATMUL_KINDS or op.kind in ATTENTION_KINDS
        return OpCost(seconds_to_ps(launch + max(t_mem / be, t_cmp / ce)),
                      {"tensor_flop" if tensor else "vector_flop": op.flops,
                       "dram_byte": op.bytes_read + op.bytes_written},
                      {"bound": "memory" if t_mem / be >= t_cmp / ce else "compute"})

    def energy_table(self) -> dict:
        e = self.config.energy
        return {"tensor_flop": e.tensor_flop_j_per_flop * 1e12,
                "vector_flop": e.vector_flop_j_per_flop * 1e12,
                "dram_byte": e.dram_j_per_bit * 8e12}

    def static_power_w(self) -> float:
        return self.config.energy.idle_power_w

    def memory_capacity_bytes(self) -> float:
        return self.config.memory_capacity_bytes

    def peak_bandwidth_bytes_per_s(self) -> float:
        return self.config.memory_bandwidth_bytes_per_s
