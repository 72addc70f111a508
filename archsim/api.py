"""The Python API; mirrors the ``archsim`` CLI."""
from __future__ import annotations

import os

from .engine.simulator import Simulator
from .errors import ConfigError, SimulationError
from .hardware import HardwareConfig, load_hardware
from .trace.generate import generate_trace
from .trace.io import load_trace
from .trace.schema import Trace
from .transforms import apply_transforms
from .workload import Workload, load_workload

_HW_KEYS = {"devices", "links", "placement", "cost", "description", "extends"}
_WL_KEYS = {"model", "batch_size", "prompt_tokens", "generate_tokens", "precision"}


def split_overrides(overrides) -> tuple:
    """Route ``--set`` items to the hardware config or the workload.

    ``hw.X=...`` and ``workload.X=...`` are explicit; otherwise the first key decides
    (``devices.gpu0...`` is hardware, ``batch_size=8`` is workload).
    """
    hw, wl = [], []
    for item in overrides or ():
        key = item.split("=", 1)[0].strip()
        head = key.split(".", 1)[0]
        if head in ("hw", "workload") and "." in key:
            (hw if head == "hw" else wl).append(item.split(".", 1)[1])
        elif head in _HW_KEYS:
            hw.append(item)
        elif head in _WL_KEYS:
            wl.append(item)
        else:
            raise ConfigError(f"--set {item!r}: cannot tell whether {head!r} is a hardware or a "
                              "workload key; prefix it with 'hw.' or 'workload.'")
    return hw, wl


def is_trace_path(path) -> bool:
    p = os.fspath(path)
    return p.endswith((".json", ".json.gz"))


def check_capacity(hw: HardwareConfig, sim: Simulator, w: Workload) -> None:
    """Fail early when weights plus the full KV cache exceed the devices' memory."""
    caps = [d.memory_capacity_bytes() for d in sim.system.devices.values()]
    caps = [c for c in caps if c is not None]
    if not caps:
        return
    from .dtypes import nbytes
    m = w.model
    weights = nbytes(m.parameter_count(), w.precision.weights)
    ctx = w.prompt_tokens + w.generate_tokens - 1
    kv = nbytes(2 * m.num_layers * m.kv_heads * m.dim_head * ctx * w.batch_size,
                w.precision.kv_cache)
    if weights + kv > sum(caps):
        raise SimulationError(
            f"{m.name} needs {(weights + kv) / 2**30:.1f} GiB (weights {weights / 2**30:.1f} GiB "
            f"+ KV cache {kv / 2**30:.1f} GiB) but {hw.name} has {sum(caps) / 2**30:.1f} GiB")


def run(hw, workload, *, overrides=(), timeline: bool = False, progress: bool = False):
    """Simulate ``workload`` (YAML path, dict, Workload, trace path or Trace) on ``hw``.

    The layers in order: configs are loaded and validated; the workload becomes an analytic
    trace (or a captured one is loaded); the design point's trace transforms apply; the
    simulator maps, costs, schedules and prices it.

    Parameters
    ----------
    hw : str, os.PathLike, dict or HardwareConfig
    workload : str, os.PathLike, dict, Workload or Trace
        A workload is turned into an analytic trace; a trace (``.json``/``.json.gz`` path or
        :class:`Trace`) is replayed as is.
    overrides : sequence of ``"key.path=value"``
    timeline : bool
        Record every op so that :func:`archsim.write_chrome_trace` can export it.

    Returns
    -------
    RunResult
    """
    hw_over, wl_over = split_overrides(overrides)
    hw_cfg = load_hardware(hw, hw_over)
    sim = Simulator(hw_cfg, record_timeline=timeline)
    if isinstance(workload, Trace) or (not isinstance(workload, (dict, Workload))
                                       and is_trace_path(workload)):
        if wl_over:
            raise ConfigError("--set workload keys cannot change a recorded trace")
        trace = workload if isinstance(workload, Trace) else load_trace(workload)
    else:
        w = load_workload(workload, wl_over)
        check_capacity(hw_cfg, sim, w)
        trace = generate_trace(w)
    return sim.run(apply_transforms(trace, hw_cfg.transforms), progress=progress)
