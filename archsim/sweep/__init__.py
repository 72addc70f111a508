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
from .runner import DEFAULT_MAX_POINTS, SweepSummary, run_sweep
from .axes import sample_unit_cube
from .spec import Point, Sweep, load_sweep
from .store import METRICS, Store, config_key, export, hardware_key, load

__all__ = ["load_sweep", "run_sweep", "load", "export", "Sweep", "Point", "SweepSummary",
           "Store", "METRICS", "config_key", "hardware_key", "sample_unit_cube",
           "DEFAULT_MAX_POINTS"]
