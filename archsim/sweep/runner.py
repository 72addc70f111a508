"""Running a sweep: configs built and hashed, finished points skipped, the rest executed on a
local process pool or a Dask cluster, each result committed to the store as it arrives.

Executors (all run :func:`archsim.sweep.worker.run_point`, so their results are identical):

* ``jobs=1``: in this process.
* ``jobs=N``: a pool of ``N`` worker processes (from a fork server that has imported archsim,
  or spawned where there is none), alive for the whole sweep.
* ``scheduler="local:N"``: a Dask ``LocalCluster`` of ``N`` single-threaded worker processes.
* ``scheduler="tcp://HOST:PORT"``: a running Dask scheduler (its workers need archsim
  installed). Dask reaches Slurm, PBS, SGE and LSF through ``dask-jobqueue``
  (https://jobqueue.dask.org): start a ``SLURMCluster``, and pass its ``scheduler_address``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..errors import ArchsimError, ConfigError
from ..progress import Progress
from .spec import Sweep
from .store import Store, config_key, hardware_key
from .worker import run_point

#: more points than this need ``yes=True`` (``--yes``)
DEFAULT_MAX_POINTS = 1000
#: seconds to wait for a Dask scheduler to answer
CONNECT_TIMEOUT_S = 5


@dataclass
class SweepSummary:
    """What a call of :func:`run_sweep` did."""

    points: int        # points in the sweep
    unique: int        # distinct resolved configs among them
    skipped: int       # already in the store
    ran: int           # simulated now
    failed: int        # recorded as errors now (configs that could not be built, or runs)
    wall_s: float
    first_result_s: float = 0.0   # until the first result: configs built, workers started

    @property
    def points_per_min(self) -> float:
        return self.ran / self.wall_s * 60 if self.wall_s > 0 else 0.0

    @property
    def steady_points_per_min(self) -> float:
        """Points per minute after the first result (worker start-up left out)."""
        t = self.wall_s - self.first_result_s
        return (self.ran - 1) / t * 60 if self.ran > 1 and t > 0 else 0.0


def build_tasks(sweep: Sweep) -> tuple:
    """``(tasks, params, errors)``: one task per distinct resolved config, in sweep order;
    ``params[key]`` the first point's parameters; ``errors[key]`` points whose configs could not
    be built (recorded as failures, keyed by a hash of how they were written)."""
    import hashlib
    from ..api import split_overrides
    from ..hardware import load_hardware
    from ..workload import load_workload
    hw_cache, wl_cache, tasks, params, errors = {}, {}, [], {}, {}
    for p in sweep.points:
        try:
            hw_over, wl_over = split_overrides(p.overrides)
            hk = (p.hardware, tuple(hw_over))
            if hk not in hw_cache:
                hw = load_hardware(p.hardware, hw_over)
                hw_cache[hk] = (hw, hardware_key(hw))
            hw, hw_key = hw_cache[hk]
            wk = (p.workload, tuple(wl_over))
            if wk not in wl_cache:
                wl_cache[wk] = load_workload(p.workload, wl_over)
            wl = wl_cache[wk]
            key = config_key(hw, wl, hw_key=hw_key)
        except ArchsimError as e:
            key = hashlib.sha256(repr((p.hardware, p.workload, p.overrides)).encode()) \
                .hexdigest()[:32]
            if key not in params:
                errors[key] = str(e)
                params[key] = p.params
            continue
        if key not in params:
            params[key] = p.params
            tasks.append((key, hw_key, hw, wl))
    return tasks, params, errors


def _mp_context():
    """Worker processes start from a fork server that has imported archsim once (safe with
    threads in the parent, e.g. a notebook kernel, unlike a plain fork), where the platform has
    one; else they are spawned."""
    import multiprocessing
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["archsim.sweep.worker", "archsim.api",
                                    "archsim.engine.simulator", "archsim.compare"])
        return ctx
    return multiprocessing.get_context("spawn")


def _local(tasks, jobs):
    if jobs <= 1:
        for t in tasks:
            yield run_point(t)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from .worker import watch_parent
    ex = ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context(),
                             initializer=watch_parent, initargs=(os.getpid(),))
    try:
        futures = [ex.submit(run_point, t) for t in tasks]
        for f in as_completed(futures):
            yield f.result()
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def dask_client(scheduler: str):
    """A Dask client for ``local:N`` (a new LocalCluster) or a scheduler address."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--scheduler needs Dask: pip install \"archsim[cluster]\"") from None
    if scheduler.startswith("local:"):
        n = scheduler[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise ConfigError(f"--scheduler {scheduler!r}: expected local:N with N >= 1 workers")
        cluster = LocalCluster(n_workers=int(n), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster)
    if "://" not in scheduler:
        raise ConfigError(f"--scheduler {scheduler!r}: expected tcp://HOST:PORT or local:N")
    try:
        return Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError) as e:
        raise ConfigError(f"--scheduler {scheduler!r}: no Dask scheduler answered within "
                          f"{CONNECT_TIMEOUT_S} s ({type(e).__name__})") from None


def _dask(tasks, client):
    from dask.distributed import as_completed
    futures = client.map(run_point, tasks, pure=False)
    for _f, result in as_completed(futures, with_results=True):  # streamed, no round trip each
        yield result


def _close(client) -> None:
    """Close a Dask client, and the LocalCluster it started."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def run_sweep(sweep: Sweep, store_path, *, jobs: int | None = None,
              scheduler: str | None = None, resume: bool = False, yes: bool = False,
              max_points: int = DEFAULT_MAX_POINTS, retry_failed: bool = False,
              progress: bool | None = None, stream=None) -> SweepSummary:
    """Run every point of ``sweep`` not yet in the store at ``store_path``.

    Parameters
    ----------
    jobs : int, optional
        Local worker processes (default: the machine's cores); ignored with ``scheduler``.
    scheduler : str, optional
        ``local:N`` or ``tcp://HOST:PORT`` to run on Dask.
    resume : bool
        Continue into a store that already has points (else that is an error).
    yes : bool
        Accept more than ``max_points`` points.
    retry_failed : bool
        Run again the points recorded as errors.
    progress : bool, optional
        Report progress on stderr (``None``: unless ``stream`` is given and ``False``).

    Returns
    -------
    SweepSummary
    """
    t0 = time.perf_counter()
    if len(sweep) > max_points and not yes:
        raise ConfigError(f"the sweep has {len(sweep)} points, more than the guard of "
                          f"{max_points}: pass --yes to run them", file=sweep.file)
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ConfigError(f"-j {jobs}: expected at least 1 worker")
    if not resume and Store.has_points(store_path):
        raise ConfigError("the results store already has points: pass --resume to "
                          "continue it, or choose another file", file=os.fspath(store_path))
    tasks, params, errors = build_tasks(sweep)
    client = dask_client(scheduler) if scheduler else None  # fails before anything is written
    store = Store.open(store_path, sweep.axes)
    try:
        done = store.finished(include_errors=not retry_failed)
        failed = 0
        for key, msg in errors.items():
            if key not in done:
                store.record(key, sweep.name, params[key], "error", error=msg)
                failed += 1
        todo = [t for t in tasks if t[0] not in done]
        skipped = len(tasks) - len(todo) + sum(1 for k in errors if k in done)
        t_first = None
        bar = Progress(len(todo), f"sweep {sweep.name}", stream=stream,
                       enabled=progress if progress is not None else True).start()
        results = _dask(todo, client) if client is not None else _local(todo, jobs)
        t_first = None
        for key, status, metrics, breakdown, error in results:
            if t_first is None:
                t_first = time.perf_counter()
            store.record(key, sweep.name, params[key], status, metrics, error, breakdown)
            failed += status != "ok"
            bar.update(failed=int(status != "ok"))
        bar.close()
    finally:
        store.close()
        if client is not None:
            _close(client)
    t1 = time.perf_counter()
    return SweepSummary(len(sweep), len(tasks) + len(errors), skipped, len(todo), failed,
                        t1 - t0, (t_first or t1) - t0)
