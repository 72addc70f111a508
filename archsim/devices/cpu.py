"""Server CPU device: the same per-op roofline as the GPU model, with CPU presets.

Matmuls run at the SIMD (e.g. AVX-512 FMA) peak of their dtype and element-wise kernels at the
vector rate; ``launch_overhead`` stands for the per-op framework dispatch cost on a CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config.schema import param
from .base import register_device
from .gpu import Gpu, GpuConfig


@dataclass(frozen=True)
class CpuConfig(GpuConfig):
    """A CPU preset (fields as :class:`~archsim.devices.gpu.GpuConfig`; ``tensor_peak`` is the
    SIMD matrix rate)."""

    kind: Literal["cpu"] = param()


@register_device
class Cpu(Gpu):
    """Roofline CPU (see module docstring)."""

    kind = "cpu"
    Config = CpuConfig
