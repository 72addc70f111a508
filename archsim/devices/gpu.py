"""GPU device: shape-aware kernels with a floor, a per-kernel launch gap and a host stack.

Each op is one kernel. Its duration on the GPU is

    kernel = max(floor[kind], max(t_mem / bandwidth_efficiency, t_cmp / compute_efficiency))

and the GPU is busy for ``launch_overhead + kernel`` (the device-side gap between consecutive
kernels, then the kernel). When the host dispatches ops eagerly (:mod:`.gpu_host`), its time per
op is reported apart (:meth:`Gpu.dispatch_ps`), and the engine runs the host ahead of the GPU.

``t_mem`` and ``t_cmp`` are the op's times at 100% of the peaks. With a ``kernels`` section
(:mod:`.gpu_kernels`) matmuls and attention are tiled GEMMs: tile and wave quantisation, split-K
and L2 reuse make the efficiency follow from the shape, and the attention score (``Q K^T``: many
output columns) and context (``P V``: a long reduction) get different plans. Without it (the CPU
device, which shares this code) ``t_mem = bytes / bandwidth`` and ``t_cmp = FLOPs / peak``. The
peak is the tensor-core rate of the op's dtype for matmuls and attention, and the vector
(CUDA-core) rate for element-wise kernels. Every parameter lives in the YAML preset so that
``archsim calibrate`` can fit the efficiencies from measured traces; they may be given per op
kind. ``docs/gpu_model.md`` lists every constant and its source.

A weight-only low-bit matmul (INT4 weights, FP16 activations) also dequantises its weights
(:mod:`archsim.trace.dequant`): vector work on the CUDA cores that overlaps the tensor-core and
memory work of the same kernel, as MARLIN pipelines it (Frantar et al., arXiv 2408.11743), so
``t_vec = dequant ops x row tiles / (vector peak x occupancy)`` joins the max:
``max(t_mem / be, t_cmp / ce, t_vec / ce)``. A tiled kernel re-dequantises a weight for every
row tile of the activations; the CUDA cores of SMs without a CTA stay idle (occupancy).

Energy is priced per action: tensor and vector FLOPs, and DRAM bytes, plus idle power over time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config.schema import param, quantity
from ..errors import ConfigError, TraceError
from ..trace.dequant import dequant_ops
from ..trace.formats import refuse_sparse
from ..trace.schema import ATTENTION_KINDS, MATMUL_KINDS, OP_KINDS, Op, OpKind
from ..units import seconds_to_ps
from .base import Device, OpCost, register_device
from .common import DeviceCost
from .gpu_host import Software
from .gpu_kernels import KernelModel, plan_gemm


@dataclass(frozen=True)
class KindEfficiency:
    """Per-op-kind overrides of the roofline efficiencies, launch overhead and kernel floor."""

    bandwidth_efficiency: float | None = param(default=None, min=0.0, max=1.0, min_exclusive=True)
    compute_efficiency: float | None = param(default=None, min=0.0, max=1.0, min_exclusive=True)
    launch_overhead_s: float | None = quantity("time", default=None, min=0)
    floor_s: float | None = quantity("time", default=None, min=0)


@dataclass(frozen=True)
class Roofline:
    """Achievable fractions of the peaks, per-kernel overhead, and their provenance."""

    bandwidth_efficiency: float = param(min=0.0, max=1.0, min_exclusive=True)
    compute_efficiency: float = param(min=0.0, max=1.0, min_exclusive=True)
    launch_overhead_s: float = quantity("time", min=0)
    source: str = param(doc="where the efficiencies come from (measurement, paper, assumption)")
    per_kind: dict[str, KindEfficiency] = param(default_factory=dict)
    floor_s: float = quantity("time", default=0.0, min=0,
                              doc="least duration of any kernel (per kind in per_kind)")
    floor_source: str | None = param(default=None, doc="where the kernel floors come from")

    def floor_for(self, kind: str) -> float:
        """Least kernel duration of ops of ``kind``, in seconds."""
        k = self.per_kind.get(kind)
        return k.floor_s if k is not None and k.floor_s is not None else self.floor_s

    def validate(self):
        for k in self.per_kind:
            if k not in OP_KINDS:
                return (("per_kind", k), f"unknown op kind {k!r}; expected one of "
                        + ", ".join(OP_KINDS))
        if (self.floor_s or any(k.floor_s for k in self.per_kind.values())) \
                and not self.floor_source:
            return (("floor_source",), "kernel floors need a source (measurement, paper or "
                    "'ASSUMPTION: ...')")
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
    kernels: KernelModel | None = param(
        default=None, doc="tiled-GEMM model (SMs, L2, tiles); absent: plain roofline")
    software: Software | None = param(
        default=None, doc="host stack launching the kernels (eager or cuda_graphs); absent: the "
        "host never binds")

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
    """GPU with kernel floors, tiled GEMMs and a host stack (see module docstring)."""

    kind = "gpu"
    Config = GpuConfig

    def __init__(self, name: str, config: GpuConfig) -> None:
        super().__init__(name, config)
        from ..units import parse_quantity
        self._tensor = {k: parse_quantity(v, "compute") for k, v in config.tensor_peak.items()}
        self._vector = {k: parse_quantity(v, "compute") for k, v in config.vector_peak.items()}
        self._plans: dict = {}   # op signature -> GemmPlan (a cache of a pure function)

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
        """``(t_mem, t_cmp)`` in seconds at 100% efficiency.

        Without a kernel model: bytes / peak bandwidth and FLOPs / peak rate (tensor rate for
        matmuls and attention, vector rate otherwise). With one, matmuls and attention are the
        terms of their best tiled plan (:func:`~.gpu_kernels.plan_gemm`).
        """
        if op.attrs and "sparsity" in op.attrs:
            refuse_sparse(op, self.name, self.kind, "the roofline has no sparse tensor-core "
                          "rate; dense and sparse kernels differ in more than FLOPs")
        plan = self.gemm_plan(op)
        if plan is not None:
            return plan.t_mem_s, plan.t_cmp_s
        tensor = op.kind in MATMUL_KINDS or op.kind in ATTENTION_KINDS
        peak = self._peak(self._tensor if tensor else self._vector, op.dtype,
                          "tensor" if tensor else "vector", op)
        moved = op.bytes_read + op.bytes_written
        return moved / self.config.memory_bandwidth_bytes_per_s, op.flops / peak

    def gemm_plan(self, op: Op):
        """The tiled plan of a matmul or attention op, or ``None`` (no kernel model, or another
        kind). A matmul or attention op without the shape fields of its kind is an error: the
        kernel model cannot price it, and a plain roofline instead would change the model
        silently."""
        km = self.config.kernels
        if km is None or not (op.kind in MATMUL_KINDS or op.kind in ATTENTION_KINDS):
            return None
        key = op.signature()
        cached = self._plans.get(key)
        if cached is not None:
            return cached
        sh = op.shape
        common = dict(km=km, peak_flop_per_s=self._peak(self._tensor, op.dtype, "tensor", op),
                      bandwidth_bytes_per_s=self.config.memory_bandwidth_bytes_per_s)
        if op.kind in MATMUL_KINDS and {"m", "n", "k"} <= set(sh):
            a = op.bytes_read - op.weight_bytes
            plan = plan_gemm(int(sh["m"]), int(sh["n"]), int(sh["k"]), batch=1, a_bytes=a,
                             b_bytes=op.weight_bytes, c_bytes=op.bytes_written,
                             pad_m=op.kind is not OpKind.GEMV, **common)
        elif op.kind in ATTENTION_KINDS and {"batch", "heads", "kv_heads", "q_len", "kv_len",
                                             "head_dim"} <= set(sh):
            # query heads of one KV group side by side (GQA: each K/V head is read once)
            kvh = int(sh["kv_heads"])
            g = int(sh["heads"]) // max(kvh, 1)
            rows = g * int(sh["q_len"])
            batch = int(sh["batch"]) * kvh
            q_or_p = op.bytes_read - op.kv_bytes
            if op.kind is OpKind.ATTENTION_SCORE:   # [rows, hd] x [hd, kv_len]
                m, n, k = rows, int(sh["kv_len"]), int(sh["head_dim"])
                split = False                       # the KV length is the parallel dimension
            else:                                   # [rows, kv_len] x [kv_len, hd]
                m, n, k = rows, int(sh["head_dim"]), int(sh["kv_len"])
                split = km.split_kv_attention       # FlashDecoding splits the KV length
            # a one-row product per KV head (decode without GQA) runs as a batched GEMV
            plan = plan_gemm(m, n, k, batch=batch, a_bytes=q_or_p, b_bytes=op.kv_bytes,
                             c_bytes=op.bytes_written, pad_m=m > 1, split_k=split, **common)
        else:
            need = "m, n, k" if op.kind in MATMUL_KINDS else \
                "batch, heads, kv_heads, q_len, kv_len, head_dim"
            raise TraceError(f"op {op.name!r} ({op.kind.value}) has shape {dict(sh)}; the GPU "
                             f"kernel model of {self.config.name} needs {need}")
        self._plans[key] = plan
        return plan

    def dequant_terms(self, op: Op) -> tuple:
        """``(vector ops, t_vec)`` of a low-bit matmul's weight dequantisation (seconds at the
        vector peak of the activation dtype): the trace's count times the row tiles of the
        kernel's plan, at the plan's occupancy. ``(0, 0.0)`` for other ops."""
        ops = dequant_ops(op)
        if not ops:
            return 0, 0.0
        plan = self.gemm_plan(op)
        occupancy = 1.0
        if plan is not None:
            ops *= -(-int(op.shape["m"]) // plan.tile_m)
            occupancy = min(1.0, plan.ctas / self.config.kernels.sm_count)
        peak = self._peak(self._vector, op.dtype, "vector", op)
        return ops, ops / (peak * occupancy)

    def kernel_time_s(self, op: Op) -> float:
        """Kernel duration ``max(floor, t_mem / be, t_cmp / ce, t_vec / ce)``, without the
        launch gap."""
        t_mem, t_cmp = self.roofline_terms(op)
        t_vec = self.dequant_terms(op)[1]
        be, ce, _ = self.kind_params(op.kind)
        return max(self.config.roofline.floor_for(op.kind.value), t_mem / be, t_cmp / ce,
                   t_vec / ce)

    def op_cost(self, op: Op) -> OpCost:
        t_mem, t_cmp = self.roofline_terms(op)
        be, ce, launch = self.kind_params(op.kind)
        tensor = op.kind in MATMUL_KINDS or op.kind in ATTENTION_KINDS
        dq_ops, t_vec = self.dequant_terms(op)
        work = max(t_mem / be, t_cmp / ce, t_vec / ce)
        floor = self.config.roofline.floor_for(op.kind.value)
        busy = launch + max(floor, work)
        if floor > work:
            bound = "floor"
        elif t_vec / ce > max(t_mem / be, t_cmp / ce):
            bound = "dequant"
        else:
            bound = "memory" if t_mem / be >= t_cmp / ce else "compute"
        detail = {"bound": bound}
        plan = self.gemm_plan(op)
        moved = op.bytes_read + op.bytes_written
        if plan is not None:
            detail.update(plan.detail)
            moved = plan.dram_bytes   # operands re-read past the L2, split-K partial sums
        actions = {"tensor_flop" if tensor else "vector_flop": op.flops, "dram_byte": moved}
        if dq_ops:
            actions["vector_flop"] = actions.get("vector_flop", 0) + dq_ops
        return OpCost(seconds_to_ps(busy), actions, detail)

    def dispatch_ps(self) -> int:
        """Host time per op of the software stack (:mod:`.gpu_host`): the eager dispatch, or 0
        under CUDA graphs or without a ``software`` entry."""
        sw = self.config.software
        return seconds_to_ps(sw.host_s()) if sw is not None else 0

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
