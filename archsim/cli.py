"""The ``archsim`` command line.

Every user error (bad YAML, bad trace, bad value) prints one line ``archsim: error: ...`` naming
the file, line and key, and exits with code 2, without a traceback. Outputs are written only
after the simulation has succeeded, each file atomically.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from . import __version__
from .errors import EXIT_USAGE, ArchsimError

#: modules that add their own subcommands with ``add_commands(subparsers)``
COMMAND_MODULES = ("archsim.pim.cli", "archsim.dram.cli", "archsim.capture.cli",
                   "archsim.validation.cli", "archsim.config.cli", "archsim.serving.cli",
                   "archsim.pim.attention_step", "archsim.sweep.cli")


def _add_run(sub):
    p = sub.add_parser("run", help="simulate a workload (or replay a trace) on a design point")
    p.add_argument("hw", help="hardware config YAML")
    p.add_argument("workload", help="workload YAML, or a trace (.json / .json.gz) to replay")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. devices.gpu0.memory_bandwidth='2 TB/s' or "
                        "batch_size=8 (prefix hw. or workload. when ambiguous)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--table", choices=("steps", "kinds", "ops"), default="steps",
                   help="with --format csv: one row per step (default), per device and op kind, "
                        "or per op, with energy")
    p.add_argument("--timeline", metavar="FILE", help="write the simulated timeline as "
                   "Chrome-trace JSON (open it in Perfetto); FILE.gz is gzip-compressed")
    p.add_argument("--timeline-steps", metavar="SEL", help="record only these steps in the "
                   "timeline, e.g. 0-3,100 (ranges inclusive; 100- runs to the end)")
    p.add_argument("--timeline-layers", metavar="SEL", help="keep only these layers' ops in "
                   "the timeline, e.g. 0-1 (ops outside the layers are kept)")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="also write " + ", ".join(RUN_OUTPUTS) + " to DIR")
    p.add_argument("--force", action="store_true", help="run even when the up-front estimate "
                   "of work or memory is above the limits")
    p.set_defaults(func=cmd_run)


#: files ``run -o DIR`` writes
RUN_OUTPUTS = ("result.json", "steps.csv", "kinds.csv", "ops.csv", "summary.txt")


def cmd_run(args) -> int:
    from .api import run
    from .engine.timeline import Selection, write_chrome_trace
    from .fsutil import write_atomic
    from .outpaths import check_dir, check_distinct, check_file, writing
    # every output is checked before anything is simulated
    outputs = {}
    if args.timeline:
        outputs["--timeline"] = [check_file(args.timeline, "--timeline")]
    elif args.timeline_steps or args.timeline_layers:
        raise ArchsimError("--timeline-steps and --timeline-layers need --timeline FILE")
    if args.output_dir:
        check_dir(args.output_dir, "--output-dir", RUN_OUTPUTS)
        outputs["--output-dir"] = [args.output_dir] + [os.path.join(args.output_dir, n)
                                                       for n in RUN_OUTPUTS]
    check_distinct(outputs)
    if args.table != "steps" and args.format != "csv":
        raise ArchsimError("--table applies to --format csv")
    steps = Selection.parse(args.timeline_steps, "--timeline-steps") \
        if args.timeline_steps else True
    layers = Selection.parse(args.timeline_layers, "--timeline-layers") \
        if args.timeline_layers else None
    result = run(args.hw, args.workload, overrides=args.overrides,
                 timeline=steps if args.timeline else False, progress=True, force=args.force)
    text = {"table": result.to_table, "json": result.to_json,
            "csv": lambda: result.to_csv(args.table)}[args.format]()
    files = []
    if args.output_dir:
        files += [(os.path.join(args.output_dir, "result.json"), result.to_json()),
                  (os.path.join(args.output_dir, "steps.csv"), result.to_csv()),
                  (os.path.join(args.output_dir, "kinds.csv"), result.to_csv("kinds")),
                  (os.path.join(args.output_dir, "ops.csv"), result.to_csv("ops")),
                  (os.path.join(args.output_dir, "summary.txt"), result.to_table() + "\n")]
    for path, data in files:
        with writing(path, "--output-dir"):
            write_atomic(path, data)
    if args.timeline:
        with writing(args.timeline, "--timeline"):
            write_chrome_trace(result, args.timeline, layers=layers)
    print(text.rstrip("\n"))
    return 0


def _add_check(sub):
    p = sub.add_parser("check", help="validate config files (hardware, workload, trace)")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_check)


def check_file(path) -> str:
    """Validate one file, guessing its type; returns a description of what it is."""
    from .config.yamlio import load_file
    if os.fspath(path).endswith((".json", ".json.gz")):
        from .trace.io import load_trace
        t = load_trace(path)
        return f"trace with {len(t.steps)} steps, {t.num_ops} ops"
    doc = load_file(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    if "devices" in data:
        from .hardware import load_hardware
        h = load_hardware(path)
        return f"hardware config {h.name!r} with {len(h.devices)} device(s)"
    if "model" in data:
        from .workload import load_workload
        w = load_workload(path)
        return f"workload with model {w.model.name}"
    for mod in COMMAND_MODULES:
        checker = getattr(importlib.import_module(mod), "check_file", None)
        if checker is not None:
            what = checker(path, doc)
            if what:
                return what
    raise ArchsimError("cannot tell what this file is: a hardware config has 'devices', a "
                       "workload has 'model'", file=os.fspath(path), line=1)


def cmd_check(args) -> int:
    failed = 0
    for f in args.files:
        try:
            print(f"{f}: ok ({check_file(f)})")
        except ArchsimError as e:
            print(f"archsim: error: {e}", file=sys.stderr)
            failed += 1
    return EXIT_USAGE if failed else 0


def _add_list(sub):
    p = sub.add_parser("list", help="list shipped presets, models or device kinds")
    p.add_argument("what", choices=("presets", "models", "devices"))
    p.set_defaults(func=cmd_list)


def cmd_list(args) -> int:
    from .config.presets import list_presets, load_preset
    if args.what == "models":
        from .model import list_models
        from .workload import load_workload
        print(f"{'preset':<14} {'name':<14} {'layers':>6} {'hidden':>6} {'heads':>5} {'kv':>4} "
              f"{'params':>8}  source")
        for name in list_models():
            m = load_workload({"model": name, "prompt_tokens": 1, "generate_tokens": 1}).model
            print(f"{name:<14} {m.name:<14} {m.num_layers:>6} {m.hidden_size:>6} "
                  f"{m.num_heads:>5} {m.kv_heads:>4} {m.parameter_count() / 1e9:>7.3f}B  "
                  f"{m.source}")
    elif args.what == "devices":
        from .devices.base import device_kinds
        for kind, cls in sorted(device_kinds().items()):
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            print(f"{kind:<10} {doc}")
    else:
        from .config.presets import preset_root
        cats = sorted(p.name for p in preset_root().iterdir() if p.is_dir()
                      and not p.name.startswith("_"))
        for cat in cats:
            names = list_presets(cat)
            if not names:
                continue
            print(f"{cat}:")
            for n in names:
                data = load_preset(cat, n).data or {}
                label = data.get("name", "") if isinstance(data, dict) else ""
                print(f"  {n:<16} {label}")
    return 0


def _add_trace(sub):
    p = sub.add_parser("trace", help="write the analytic AR-decoding trace of a workload")
    p.add_argument("workload")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="trace file (.json, or .json.gz for gzip)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--force", action="store_true", help="write it even when the up-front "
                   "estimate of its size is above the limits")
    p.set_defaults(func=cmd_trace)


def cmd_trace(args) -> int:
    from . import guard
    from .outpaths import check_file, writing
    from .trace import save_trace
    from .transforms.decoding import logical_trace
    from .workload import load_workload
    out = check_file(args.output, "--output", (".json", ".json.gz"))
    w = load_workload(args.workload, args.overrides)
    guard.check(guard.estimate_workload(w), force=args.force)
    t = logical_trace(w)
    with writing(out, "--output"):
        save_trace(t, out, progress=True)
    print(f"wrote {out}: {len(t.steps)} steps, {t.num_ops} ops")
    return 0


def _add_compare(sub):
    p = sub.add_parser("compare", help="run workloads on a design point and baselines: "
                       "latency per token, speed-up, energy efficiency")
    p.add_argument("hw", help="target hardware config YAML")
    p.add_argument("workloads", nargs="+", help="workload YAMLs")
    p.add_argument("--baseline", action="append", default=[], required=True, metavar="HW",
                   help="baseline hardware config (repeatable)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", action="store_true")
    p.add_argument("--breakdown", action="store_true",
                   help="also print time and energy per token by device and component")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    from .compare import compare
    c = compare(args.hw, args.baseline, args.workloads, overrides=args.overrides,
                progress=sys.stderr.isatty(), runs_progress=True)
    if args.json:
        print(json.dumps(c.to_dict(), indent=2))
    else:
        print(c.to_table())
        print()
        print(c.throughput_table())
        if args.breakdown:
            print()
            print(c.breakdown_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archsim", description="Event-driven, cycle-accurate simulation of LLM "
        "autoregressive decoding on GPUs, PIM DRAM, FPGA engines and heterogeneous systems.")
    parser.add_argument("--version", action="version", version=f"archsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in (_add_run, _add_compare, _add_check, _add_list, _add_trace):
        add(sub)
    for mod in COMMAND_MODULES:
        importlib.import_module(mod).add_commands(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ArchsimError as e:
        print(f"archsim: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
