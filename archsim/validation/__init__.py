"""Compare simulated against measured traces (``archsim validate``) and fit the roofline
parameters of GPU-like devices to measurements (``archsim calibrate``).

What is compared (see ``docs/capture.md``):

* **op time**: the simulated *kernel* time of an op (for roofline devices, the op cost without
  the per-kernel ``launch_overhead``) against its measured ``measured_ns`` (summed kernel time
  on a GPU; the op region's wall time in a CPU capture);
* **step time**: the simulated step (every op including ``launch_overhead``, as
  :class:`~archsim.engine.simulator.Simulator` runs it) against the step's measured wall time.
"""
from ..dram import lazy_exports

#: imported on first use, so that the CLI's parser does not load the engine
__getattr__ = lazy_exports(__name__, {"kernel_time_s": "measured", "validate": "measured"})

__all__ = ["kernel_time_s", "validate", "calibrate"]


def calibrate(*args, **kw):
    """See :func:`archsim.validation.calibrate.calibrate`."""
    from .calibrate import calibrate as _calibrate
    return _calibrate(*args, **kw)
