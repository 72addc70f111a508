"""``archsim capture`` and ``archsim import-kineto``."""
from __future__ import annotations

from ..errors import ArchsimError


def add_commands(subparsers) -> None:
    """Add the ``capture`` and ``import-kineto`` subcommands to an argparse subparsers object."""
    p = subparsers.add_parser(
        "capture", help="run the PyTorch reference implementation of a workload under "
        "torch.profiler and write a measured trace (needs PyTorch)")
    p.add_argument("workload", help="workload YAML")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("-o", "--output-dir", required=True, metavar="DIR",
                   help="writes DIR/kineto.json.gz (raw Chrome trace) and DIR/trace.json.gz")
    p.add_argument("--warmup", type=int, default=1, metavar="N",
                   help="whole generations run before measuring (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and prompt")
    p.add_argument("--no-gzip", action="store_true", help="write kineto.json uncompressed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a workload key, e.g. generate_tokens=32")
    p.set_defaults(func=cmd_capture)

    p = subparsers.add_parser(
        "import-kineto", help="convert a torch.profiler Chrome trace with archsim:: op regions "
        "into a measured archsim trace")
    p.add_argument("file", help="Chrome trace from torch.profiler (.json or .json.gz)")
    p.add_argument("-o", "--output", required=True, metavar="TRACE",
                   help="archsim trace to write (.json or .json.gz)")
    p.add_argument("--workload", metavar="WORKLOAD",
                   help="workload YAML that was run (default: the one archsim capture stored)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a workload key")
    p.add_argument("--map", dest="aliases", action="append", default=[], metavar="REGEX=OP",
                   help="also treat regions whose name matches REGEX as op OP; OP may contain "
                        "{layer} (from a (?P<layer>...) group, else counted per step)")
    p.set_defaults(func=cmd_import_kineto)


def cmd_capture(args) -> int:
    from ..outpaths import check_dir
    from .capture import capture
    check_dir(args.output_dir, "--output-dir", ("kineto.json.gz", "kineto.json",
                                                "trace.json.gz"))
    r = capture(args.workload, args.device, args.output_dir, warmup=args.warmup,
                overrides=args.overrides, seed=args.seed, gzip_kineto=not args.no_gzip,
                progress=True)
    t = r.trace
    total = sum(s.measured_ns for s in t.steps) / 1e6
    dec = [s.measured_ns for s in t.decode_steps]
    tpot = f", TPOT {sum(dec) / len(dec) / 1e6:.3f} ms" if dec else ""
    print(f"captured {len(t.steps)} steps, {t.num_ops} ops on {t.meta['device'].get('name')} "
          f"({args.device}): {total:.1f} ms{tpot}")
    print(f"wrote {r.kineto_path}")
    print(f"wrote {r.trace_path}")
    return 0


def cmd_import_kineto(args) -> int:
    from ..outpaths import check_file, writing
    from ..trace.io import save_trace
    from .kineto import import_kineto, parse_aliases
    out = check_file(args.output, "--output", (".json", ".json.gz"))
    if args.overrides and not args.workload:
        raise ArchsimError("--set needs --workload")
    t = import_kineto(args.file, args.workload, overrides=args.overrides,
                      aliases=parse_aliases(args.aliases))
    with writing(out, "--output"):
        save_trace(t, out)
    k = t.meta["kineto"]
    measured = t.num_ops - t.meta["unmeasured_ops"]
    print(f"wrote {out}: {len(t.steps)} steps, {measured}/{t.num_ops} ops measured "
          f"({k['mode']}: {k['kernels']} kernels, {k['unattributed_kernels']} outside op regions)")
    return 0
