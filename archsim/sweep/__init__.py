"""Design-space sweeps: a sweep YAML expands into points (grids, zipped lists, random or
Latin-hypercube samples), validated as a whole before anything runs; the points run on a local
process pool or a Dask cluster; results go to a resumable SQLite store, one row per distinct
resolved config.

::

    import archsim.sweep as sw
    s = sw.load_sweep("batch_tradeoff")          # a shipped sweep, or a path
    sw.run_sweep(s, "out/batch.db", jobs=2)
    df = sw.load("out/batch.db")                 # a pandas DataFrame
"""
from ..lazy import lazy_exports

#: public name -> module that defines it; imported on first use (PEP 562), so that the CLI,
#: which imports archsim.sweep.cli for its subcommands, loads no simulator stack until a sweep runs
_EXPORTS = {
    "run_sweep": ".runner", "SweepSummary": ".runner", "DEFAULT_MAX_POINTS": ".runner",
    "sample_unit_cube": ".axes",
    "load_sweep": ".spec", "Sweep": ".spec", "Point": ".spec",
    "load": ".store", "export": ".store", "Store": ".store", "METRICS": ".store",
    "config_key": ".store", "hardware_key": ".store",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
