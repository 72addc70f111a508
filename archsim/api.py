"""The Python API; mirrors the ``archsim`` CLI."""
from __future__ import annotations

import dataclasses
import os

from .capacity import check_fits, max_batch
from .engine.simulator import Simulator
from .errors import ArchsimError, ConfigError
from .hardware import HardwareConfig, load_hardware
from .trace.io import load_trace
from .trace.schema import Trace
from .transforms import apply_transforms
from .transforms.decoding import check_design_point, logical_trace
from .workload import Workload, load_workload

_HW_KEYS = {"devices", "links", "placement", "cost", "description", "extends"}
_WL_KEYS = {"model", "batch_size", "prompt_tokens", "generate_tokens", "precision", "sparsity",
            "attention_window",
            "decoding"}


#: the other top-level keys of a design point, so that --set routes them without a prefix
_HW_KEYS = _HW_KEYS | {"groups", "allow_unused_devices", "switches", "collective",
                       "parallelism", "transforms"}


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
            import difflib
            close = difflib.get_close_matches(head, sorted(_HW_KEYS | _WL_KEYS), n=1)
            hint = f"unknown key {head!r}; did you mean {close[0]!r}?" if close else \
                f"cannot tell whether {head!r} is a hardware or a workload key"
            if not close:
                hint += "; prefix it with 'hw.' or 'workload.'"
            raise ConfigError(f"--set {item!r}: {hint}")
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


def run(hw, workload, *, overrides=(), timeline=False, progress: bool = False,
        force: bool = False):
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
    timeline : bool or container of int
        Record every op so that :func:`archsim.write_chrome_trace` can export it; a container
        of step indices (:class:`archsim.engine.timeline.Selection`) records only those steps.
    progress : bool
        Report progress on stderr (:mod:`archsim.progress`).
    force : bool
        Run even when the up-front estimate (:mod:`archsim.guard`) exceeds the limits.

    Returns
    -------
    RunResult
    """
    hw_over, wl_over = split_overrides(overrides)
    hw_cfg = load_hardware(hw, hw_over)
    try:
        return _run(hw_cfg, workload, wl_over, timeline, progress, force)
    except ArchsimError as e:
        raise locate_in_hardware(e, hw) from None


def locate_in_hardware(err: ArchsimError, hw) -> ArchsimError:
    """``err`` (raised while simulating, naming a hardware key such as ``links`` but no file)
    with the design point's file and the line of that key, or of the nearest key it depends
    on (``placement``, ``devices``) when the file does not write it."""
    if err.file is not None or not err.key or isinstance(hw, (dict, HardwareConfig)):
        return err
    from .config.presets import locate
    try:
        located = locate(os.fspath(hw), "hw")
    except ArchsimError:
        return err
    for key in (err.key, "placement", "devices"):
        if (key,) in located.locs:
            file, line = located.locs[(key,)]
            return err.located(file=file, line=line)
    return err.located(file=located.file)


def _run(hw_cfg, workload, wl_over, timeline, progress, force):
    from . import guard
    if timeline is None:
        timeline = False
    sim = Simulator(hw_cfg, record_timeline=timeline)
    recorded = None if isinstance(timeline, bool) else timeline
    if isinstance(workload, Trace) or (not isinstance(workload, (dict, Workload))
                                       and is_trace_path(workload)):
        if wl_over:
            raise ConfigError("--set workload keys cannot change a recorded trace")
        trace = workload if isinstance(workload, Trace) else load_trace(workload)
        guard.check(guard.estimate_trace(trace, hw_cfg, timeline=timeline is not False,
                                         recorded=recorded), force=force)
    else:
        w = load_workload(workload, wl_over)
        guard.check(guard.estimate_workload(w, hw_cfg, timeline=timeline is not False,
                                            recorded=recorded), force=force)
        trace, sim = prepare(hw_cfg, w, sim)
        return sim.run(trace, progress=progress)
    return sim.run(apply_transforms(trace, hw_cfg.trace_transforms(), hw_cfg), progress=progress)
