"""``archsim validate`` and ``archsim calibrate``."""
from __future__ import annotations

import json


def add_commands(subparsers) -> None:
    """Add the ``validate`` and ``calibrate`` subcommands to an argparse subparsers object."""
    p = subparsers.add_parser(
        "validate", help="compare simulated with measured op and step times of captured traces")
    p.add_argument("hw", help="hardware config YAML")
    p.add_argument("traces", nargs="+", metavar="TRACE", help="measured traces (.json[.gz])")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--plot", metavar="FILE", help="write a log-log scatter plot (.png/.pdf/.svg)")
    p.set_defaults(func=cmd_validate)

    p = subparsers.add_parser(
        "calibrate", help="fit the roofline parameters of a hardware config to measured traces")
    p.add_argument("hw", help="hardware config YAML")
    p.add_argument("traces", nargs="+", metavar="TRACE", help="measured traces (.json[.gz])")
    p.add_argument("-o", "--output", required=True, metavar="NEW_HW.yaml")
    p.add_argument("--test-fraction", type=float, default=0.25, metavar="F",
                   help="fraction of trace groups held out for testing, at least one group when "
                        "there are two or more (default 0.25; 0: no test set)")
    p.add_argument("--split-by", choices=("model", "shape"),
                   help="group traces by model or by shape (batch, prompt, generate) so that a "
                        "held-out group is unseen in training (default: each trace a group)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    p.add_argument("--keep-floors", action="store_true",
                   help="keep the devices' kernel floors instead of fitting one per op kind")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_calibrate)


def cmd_validate(args) -> int:
    from ..outpaths import check_file
    from .measured import format_report, validate
    if args.plot:
        check_file(args.plot, "--plot")
    rep = validate(args.hw, args.traces, progress=True)
    if args.plot:
        from .plot import scatter_plot
        scatter_plot(rep, args.plot)
    pairs = rep.pop("_pairs")
    del pairs
    print(json.dumps(rep, indent=1) if args.json else format_report(rep))
    return 0


def cmd_calibrate(args) -> int:
    from ..outpaths import check_file
    from .calibrate import calibrate
    check_file(args.output, "--output")
    rep = calibrate(args.hw, args.traces, args.output, test_fraction=args.test_fraction,
                    split_by=args.split_by, seed=args.seed, fit_floors=not args.keep_floors,
                    progress=True)
    if args.json:
        print(json.dumps(rep, indent=1))
        return 0

    def f(v):
        return "n/a" if v is None else f"{v:.1f}%"
    for name, d in rep["devices"].items():
        print(f"{name}: bandwidth_efficiency {d['bandwidth_efficiency']:.4g}, compute_efficiency "
              f"{d['compute_efficiency']:.4g}, launch_overhead "
              + ("unchanged" if d["launch_overhead_s"] is None
                 else f"{d['launch_overhead_s'] * 1e6:.3g} us"))
        floors = {k: e["floor_s"] for k, e in d["per_kind"].items() if e.get("floor_s")}
        if floors:
            print("  fitted kernel floors: " + ", ".join(f"{k} {v * 1e6:.3g} us"
                                                         for k, v in floors.items()))
    for part in ("train", "test"):
        b, a = rep["before"][part], rep["after"][part]
        if a is None:
            print(f"{part}: no traces")
            continue
        print(f"{part}: op MAPE {f(b['op_mape'])} -> {f(a['op_mape'])}, step MAPE "
              f"{f(b['step_mape'])} -> {f(a['step_mape'])} ({a['op_count']} ops, "
              f"{a['step_count']} steps)")
    print(f"wrote {rep['output']}")
    return 0
