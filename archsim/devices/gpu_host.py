"""The host software stack that launches a GPU's kernels: eager PyTorch or CUDA graphs.

In **eager** mode the host runs the framework (Python, the dispatcher, the allocator,
``cudaLaunchKernel``) once per op before the GPU can start that op's kernel. When the host is
slower than the kernels the GPU idles between them: an op occupies the GPU for
``max(dispatch, launch + kernel)``. This is the regime of batch-1 decoding of small models, the
usual GPU baseline of PIM papers.

With **CUDA graphs** the whole step is captured once and replayed with one launch; consecutive
kernels follow each other with the device-side gap only (the roofline's ``launch_overhead``), so
the host does not bind and ``dispatch`` must not be given.

Limit of the per-op form: a real eager host runs ahead of the GPU while long kernels execute and
can then feed a run of short ones back to back. Taking the maximum op by op is exact when every
kernel is shorter than the dispatch (host-bound) or every one longer (device-bound); in between it
is an upper bound of the pipelined time (the lower bound is the larger of the summed dispatches
and the summed kernels). ``docs/gpu_model.md`` discusses the size of this effect.

The dispatch cost belongs to a particular CPU, Python and framework build: measure it
(``benchmarks/eager_dispatch.py``) and cite the machine in ``source``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config.schema import param, quantity


@dataclass(frozen=True)
class Software:
    """How the host launches kernels (see module docstring)."""

    stack: Literal["eager", "cuda_graphs"] = param()
    dispatch_s: float | None = quantity(
        "time", default=None, min=0, doc="host time per op in eager mode (framework + launch)")
    source: str | None = param(default=None, doc="where the dispatch cost was measured")

    def validate(self):
        if self.stack == "eager":
            if self.dispatch_s is None:
                return (("dispatch",), "software stack 'eager' needs the host's per-op dispatch "
                        "cost, e.g. dispatch: \"35 us\" (measure it: benchmarks/eager_dispatch.py)")
            if not self.source:
                return (("source",), "say where the eager dispatch cost was measured (CPU, "
                        "framework version)")
        elif self.dispatch_s is not None:
            return (("dispatch",), "CUDA graphs replay a captured step without host dispatch per "
                    "op; remove 'dispatch' or use stack: eager")
        return None

    def host_s(self) -> float:
        """Host time per op that the GPU may wait for (0 with CUDA graphs)."""
        return self.dispatch_s if self.stack == "eager" else 0.0
