"""``archsim sweep`` (run a sweep YAML into a results store, export it) and ``archsim plot``
(figures of a store, or of a run's roofline)."""
from __future__ import annotations

import os


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
    _add_plot(sub)


def check_file(path, doc):
    """``archsim check`` on a sweep file: validate it whole; ``None`` for other files."""
    data = doc.data
    if not isinstance(data, dict) or not {"hardware", "workload"} <= set(data):
        return None
    from .spec import load_sweep
    s = load_sweep(path)
    return f"sweep {s.name!r} with {len(s)} points over {', '.join(s.axes)}"


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


def _add_plot(sub) -> None:
    p = sub.add_parser("plot", help="plot a sweep store (pareto, tradeoff, breakdown) or a "
                       "run's roofline")
    p.add_argument("kind", choices=("pareto", "tradeoff", "breakdown", "roofline"))
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a results store; for roofline: HW WORKLOAD")
    p.add_argument("-o", "--output", required=True, metavar="FIG",
                   help="figure file (.png, .pdf, .svg)")
    p.add_argument("--x", default="tpot_mean_s", help="x column (default tpot_mean_s)")
    p.add_argument("--y", default="energy_per_token_j",
                   help="y column (default energy_per_token_j)")
    p.add_argument("--objective", action="append", default=[], metavar="COL:min|max",
                   help="Pareto objectives (default: x and y minimised)")
    p.add_argument("--group", default="hardware", help="one series per value of this column")
    p.add_argument("--label", help="annotate points with this column (tradeoff)")
    p.add_argument("--what", choices=("time", "energy"), default="time", help="breakdown of")
    p.add_argument("--logx", action="store_true")
    p.add_argument("--logy", action="store_true")
    p.add_argument("--device", help="roofline: the device (default: the first)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="roofline: config overrides")
    p.set_defaults(func=cmd_plot)


def cmd_plot(args) -> int:
    from .. import plots
    from ..errors import ConfigError
    plots.headless()
    out = args.output
    if os.path.splitext(out)[1].lower() not in (".png", ".pdf", ".svg"):
        raise ConfigError(f"-o {out!r}: expected a .png, .pdf or .svg file name")
    if args.kind == "roofline":
        if len(args.inputs) != 2:
            raise ConfigError("plot roofline: expected HW WORKLOAD")
        from ..api import run
        r = run(args.inputs[0], args.inputs[1], overrides=args.overrides, timeline=True)
        try:
            fig = plots.roofline_plot(r, device=args.device)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    else:
        from .store import load
        if len(args.inputs) != 1:
            raise ConfigError(f"plot {args.kind}: expected one results store")
        df = load(args.inputs[0])
        cols = [c for c in (args.x, args.y, args.group, args.label) if c]
        if args.kind != "breakdown":
            for c in cols + [o.partition(":")[0] for o in args.objective]:
                if c not in df.columns:
                    raise ConfigError(f"no column {c!r} in the store; columns are "
                                      + ", ".join(df.columns), file=args.inputs[0])
        try:
            if args.kind == "pareto":
                fig = plots.pareto_plot(df, args.x, args.y, objectives=args.objective or None,
                                        group=args.group, logx=args.logx, logy=args.logy)
            elif args.kind == "tradeoff":
                fig = plots.tradeoff_plot(df, args.x, args.y, group=args.group,
                                          label=args.label, logx=args.logx, logy=args.logy)
            else:
                fig = plots.breakdown_plot(df, what=args.what, label=args.group)
        except (ValueError, KeyError) as e:
            raise ConfigError(str(e).strip("'\"")) from None
    plots.save_figure(fig, out)
    print(f"wrote {out}")
    return 0
