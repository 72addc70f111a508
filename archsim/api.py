"""The Python API; mirrors the ``archsim`` CLI."""
from __future__ import annotations

import dataclasses
import os

from .capacity import check_fits, max_batch
from .engine.simulator import Simulator
from .errors import ConfigError
from .hardware import HardwareConfig, load_hardware
from .trace.io import load_trace
from .trace.schema import Trace
from .transforms import apply_transforms
from .transforms.decoding import check_design_point, logical_trace
from .workload import Workload, load_workload

_HW_KEYS = {"devices", "links", "placement", "cost", "description", "extends"}
_WL_KEYS = {"model", "batch_size", "prompt_tokens", "generate_tokens", "precision",
            "decoding"}


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


def prepare(hw: HardwareConfig, w: Workload, sim: Simulator | None = None,
            traces: dict | None = None) -> tuple:
    """``(trace, simulator)`` for ``w`` on ``hw``: the analytic trace after the design point's
    transforms, checked to fit in every device's memory (a ``batch_size: max`` workload first
    gets the largest batch that fits). ``traces`` caches analytic traces per workload."""
    sim = sim or Simulator(hw)
    check_design_point(w, hw)
    w = resolve_batch(hw, w)
    logical = traces.get(w) if traces is not None else None
    if logical is None:
        logical = logical_trace(w, hw)
        if traces is not None:
            traces[w] = logical
    trace = apply_transforms(logical, hw.trace_transforms(), hw)
    check_fits(trace, sim.system, sim.mapper, hw.name)
    return trace, sim


def resolve_batch(hw: HardwareConfig, w: Workload) -> Workload:
    """``w`` with ``batch_size: max`` replaced by the largest batch ``hw`` holds."""
    if w.batch_size != "max":
        return w
    sim = Simulator(hw)

    def build(probe):
        trace = apply_transforms(logical_trace(probe, hw), hw.trace_transforms(), hw)
        return trace, sim.system, sim.mapper

    return dataclasses.replace(w, batch_size=max_batch(w, hw, build))


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
        trace, sim = prepare(hw_cfg, load_workload(workload, wl_over), sim)
        return sim.run(trace, progress=progress)
    return sim.run(apply_transforms(trace, hw_cfg.trace_transforms(), hw_cfg), progress=progress)
