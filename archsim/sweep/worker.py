"""What a sweep worker runs for one point, and what it keeps between points.

A task is ``(key, hw_key, hw, workload)``: built, validated configs (frozen dataclasses, cheap
to pickle). A worker process keeps a :class:`~archsim.engine.simulator.Simulator` per design
point it has seen (:data:`CACHE_SIZE` of them, least recently used dropped), so op costs
memoized by one point (and numba kernels compiled once per process) serve the next points of
the same design point. The result is plain data: ``(key, status, metrics, breakdown, error)``.
"""
from __future__ import annotations

import time
import traceback
from collections import OrderedDict

from ..errors import ArchsimError

CACHE_SIZE = 8
_SIMS: OrderedDict = OrderedDict()


def watch_parent(pid: int, interval_s: float = 1.0) -> None:
    """A pool worker's initializer: end this process when the sweep process ``pid`` is gone (a
    killed sweep must not leave its workers waiting for tasks forever)."""
    import os
    import threading

    def watch():
        while True:
            time.sleep(interval_s)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # the pid was reused by another user's process
                os._exit(1)

    threading.Thread(target=watch, name="archsim-watch-parent", daemon=True).start()


def _simulator(hw_key: str, hw):
    from ..engine.simulator import Simulator
    sim = _SIMS.pop(hw_key, None)
    if sim is None:
        sim = Simulator(hw)
    _SIMS[hw_key] = sim
    while len(_SIMS) > CACHE_SIZE:
        _SIMS.popitem(last=False)
    return sim


def metrics_of(r) -> tuple:
    """``(metrics, breakdown)`` of a :class:`~archsim.results.RunResult`: the store's metric
    columns and the per-token time and energy components."""
    from ..compare import by_class, components, decode_tokens_per_s
    tpot = r.tpot_s
    cls = by_class(r)
    m = {"latency_s": r.latency_s, "ttft_s": r.ttft_s, "tpot_mean_s": tpot["mean"],
         "tpot_p50_s": tpot["p50"], "tpot_p99_s": tpot["p99"], "batch": r.batch,
         "tokens": r.tokens, "tokens_per_s": r.tokens_per_s,
         "decode_tokens_per_s": decode_tokens_per_s(r), "energy_j": r.energy_j,
         "energy_per_token_j": r.energy_per_token_j, "average_power_w": r.average_power_w,
         "cost_rate_usd_per_h": r.cost_rate_usd_per_h(), "usd_per_mtok": r.usd_per_mtok,
         "tokens_per_s_per_usd_per_h": r.tokens_per_s_per_usd_per_h,
         "dense_s_per_token": cls["dense"], "attention_s_per_token": cls["attention"],
         "collective_s_per_token": cls["collective"], "link_busy_s_per_token": cls["links"],
         "sim_wall_s": r.wall_s}
    return {k: (float(v) if v is not None else None) for k, v in m.items()}, components(r)


def run_point(task) -> tuple:
    """Simulate one point; never raises (a failure is returned as ``status = 'error'``)."""
    from ..api import prepare
    key, hw_key, hw, workload = task
    t0 = time.perf_counter()
    try:
        sim = _simulator(hw_key, hw)
        trace, sim = prepare(hw, workload, sim)
        metrics, breakdown = metrics_of(sim.run(trace))
        metrics["sim_wall_s"] = time.perf_counter() - t0
        return key, "ok", metrics, breakdown, None
    except ArchsimError as e:
        return key, "error", None, None, str(e)
    except Exception as e:  # a bug in a model must not stop the sweep; keep where it was
        where = traceback.extract_tb(e.__traceback__)[-1]
        return key, "error", None, None, (f"{type(e).__name__}: {e} (at {where.filename}:"
                                          f"{where.lineno})")
