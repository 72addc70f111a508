"""The host software stack that launches a GPU's kernels: eager PyTorch or CUDA graphs.

In **eager** mode the host runs the framework (Python, the dispatcher, the allocator,
``cudaLaunchKernel``) once per op before the GPU can start that op's kernel. Launches are
asynchronous, so the host runs ahead of the GPU: it issues ops in program order, one
``dispatch`` each, while earlier kernels execute, and blocks only when the sampled token is read
back at the end of a decode step (``.item()``). The device reports ``dispatch`` apart from the
kernel's duration (:meth:`~archsim.devices.gpu.Gpu.dispatch_ps`); the engine keeps the host
clock (:mod:`archsim.engine.scheduler`), and the GPU waits for its host whenever the next op is
not issued yet. This is the regime of batch-1 decoding of small models, the usual GPU baseline
of PIM papers.

With **CUDA graphs** the whole step is captured once and replayed with one launch; consecutive
kernels follow each other with the device-side gap only (the roofline's ``launch_overhead``), so
the host does not bind and ``dispatch`` must not be given.

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
