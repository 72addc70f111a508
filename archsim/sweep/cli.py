"""``archsim sweep``: run a sweep YAML into a results store (and export it)."""
from __future__ import annotations


def add_commands(sub) -> None:
    p = sub.add_parser("sweep", help="run a design-space sweep into a SQLite results store")
    p.add_argument("sweep", help="sweep YAML, or a shipped sweep's name (sweeps/)")
    p.add_argument("-o", "--output", required=True, metavar="STORE",
                   help="results store (SQLite; created, or continued with --resume)")
    p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help="local worker processes (default: the machine's cores)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="run on Dask: tcp://HOST:8786 (a running cluster) or local:N "
                        "(a LocalCluster of N workers); needs archsim[cluster]")
    p.add_argument("--resume", action="store_true",
                   help="continue a store that has points: finished points are skipped")
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume, run again the points recorded as errors")
    p.add_argument("--yes", action="store_true", help="run more points than --max-points")
    p.add_argument("--max-points", type=int, default=None, metavar="N",
                   help="guard: refuse a sweep of more points without --yes (default 1000)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate and count the points; run nothing, write nothing")
    p.add_argument("--export", metavar="FILE", action="append", default=[],
                   help="also write the store as .csv or .parquet (repeatable)")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    from .runner import DEFAULT_MAX_POINTS, run_sweep
    from .spec import load_sweep
    from .store import export
    from ..errors import ConfigError
    for out in args.export:
        if not out.endswith((".csv", ".parquet")):
            raise ConfigError(f"--export {out!r}: expected a .csv or .parquet file name")
    sweep = load_sweep(args.sweep)
    if args.dry_run:
        print(f"sweep {sweep.name}: {len(sweep)} points over {', '.join(sweep.axes)}")
        return 0
    s = run_sweep(sweep, args.output, jobs=args.jobs, scheduler=args.scheduler,
                  resume=args.resume, yes=args.yes, retry_failed=args.retry_failed,
                  max_points=args.max_points or DEFAULT_MAX_POINTS)
    print(f"sweep {sweep.name}: {s.points} points, {s.unique} distinct, {s.skipped} already "
          f"in the store, {s.ran} run ({s.failed} failed) in {s.wall_s:.1f} s "
          f"({s.points_per_min:.0f} points/min) -> {args.output}")
    for out in args.export:
        n = export(args.output, out)
        print(f"wrote {out}: {n} rows")
    return 0
