"""Request-level serving: requests arriving over time, continuous (iteration-level) batching
with a paged KV cache and preemption, on a design point's device models. See
``docs/serving.md``."""
from __future__ import annotations

from ..errors import ArchsimError
from .config import ServeConfig, TokenDist


def serve(hw, workload, config, *, overrides=(), force: bool = False, progress: bool = False):
    """Simulate serving ``workload``'s model on design point ``hw``.

    Parameters
    ----------
    hw : str, os.PathLike, dict or HardwareConfig
    workload : str, os.PathLike, dict or Workload
        The model and precisions; its ``prompt_tokens`` and ``generate_tokens`` are the
        default request lengths.
    config : dict or ServeConfig
        Arrivals, scheduler limits and SLOs (:class:`ServeConfig`).
    overrides : sequence of ``"key.path=value"``
    force : bool
        Run even when the up-front estimate (:mod:`archsim.command_guards`) exceeds the limits.
    progress : bool
        Report the requests finished on stderr (:mod:`archsim.progress`).

    Returns
    -------
    ServeResult
    """
    from ..api import split_overrides
    from ..hardware import load_hardware
    from ..workload import load_workload
    from .sim import simulate
    hw_over, wl_over = split_overrides(overrides)
    hw_cfg = load_hardware(hw, hw_over)
    w = load_workload(workload, wl_over)
    try:
        return simulate(hw_cfg, w, load_serve_config(config), force=force, progress=progress)
    except ArchsimError as e:
        raise locate_key(e, ((workload, "workloads", wl_over), (hw, "hw", hw_over))) from None


def locate_key(err, sources):
    """``err`` (raised while simulating, naming a key such as ``attention_window`` but no file)
    with the file and line where the first of ``sources`` (``(source, preset category,
    overrides)``) that writes that key writes it (``--set`` when an override does); unchanged
    when none does (a serve option such as ``memory_utilization``) or a source is not a file."""
    import os

    from ..config.presets import apply_overrides, locate
    if err.file is not None or not err.key:
        return err
    path = tuple(err.key.split("."))
    for source, category, over in sources:
        if not isinstance(source, (str, os.PathLike)):
            continue
        try:
            located = apply_overrides(locate(os.fspath(source), category), over)
        except ArchsimError:
            continue
        if path in located.locs:
            file, line = located.locs[path]
            return err.located(file=file, line=line)
    return err


def load_serve_config(config) -> ServeConfig:
    """A :class:`ServeConfig` from a mapping (validated, errors naming the key)."""
    if isinstance(config, ServeConfig):
        return config
    from ..config.presets import located_data
    from ..config.schema import from_located
    return from_located(ServeConfig, located_data(dict(config), "<serve options>"))


__all__ = ["serve", "ServeConfig", "TokenDist", "load_serve_config"]
