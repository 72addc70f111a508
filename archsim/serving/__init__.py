"""Request-level serving: requests arriving over time, continuous (iteration-level) batching
with a paged KV cache and preemption, on a design point's device models. See
``docs/serving.md``."""
from __future__ import annotations

from .config import ServeConfig, TokenDist


def serve(hw, workload, config, *, overrides=()):
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
    return simulate(hw_cfg, w, load_serve_config(config))


def load_serve_config(config) -> ServeConfig:
    """A :class:`ServeConfig` from a mapping (validated, errors naming the key)."""
    if isinstance(config, ServeConfig):
        return config
    from ..config.presets import located_data
    from ..config.schema import from_located
    return from_located(ServeConfig, located_data(dict(config), "<serve options>"))


__all__ = ["serve", "ServeConfig", "TokenDist", "load_serve_config"]
