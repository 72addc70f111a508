"""``archsim pim-gemv`` subcommand, and PIM configs in ``archsim check``.

The main CLI calls :func:`add_commands` with its argparse subparsers object and, for ``archsim
check``, :func:`check_file` (before :mod:`archsim.dram.cli`'s, since a PIM config may carry DRAM
spec keys such as ``organization``).
"""
from __future__ import annotations

from ..dram.cli import SPEC_KEYS, report
from ..errors import ConfigError

#: top-level keys that only a PIM config has
PIM_KEYS = ("mac", "global_buffer", "dram", "mapping")


def _pim_gemv(args) -> int:
    from .gemv import simulate_gemv
    from .spec import load_pim
    pim = load_pim(args.pim)
    if args.rows < 1 or args.cols < 1:
        raise ConfigError(f"--rows and --cols must be >= 1, got {args.rows} x {args.cols}")
    r = simulate_gemv(pim, args.rows, args.cols, args.dtype, channels=args.channels)
    out = {"pim": pim.name, "rows": r.rows, "cols": r.cols, "dtype": r.dtype,
           "channels": r.channels, "cycles": r.cycles, "time_ns": r.time_ns,
           "energy_pj": r.energy_pj, "commands": r.commands, "utilization": r.utilization,
           "peak_tflops": pim.peak_flops / 1e12 * r.channels / pim.n_channels}
    title = f"PIM {pim.name}: GEMV {r.rows} x {r.cols} {r.dtype} on {r.channels} channel(s)"
    rows = [("cycles", str(r.cycles)), ("time", f"{r.time_ns:.1f} ns"),
            ("energy", f"{r.energy_pj / 1e6:.3f} uJ"),
            ("utilization", f"{100 * r.utilization:.1f} % of {out['peak_tflops']:.3f} TFLOPS"),
            ("commands", ", ".join(f"{k} {v}" for k, v in r.commands.items()))]
    return report(out, args.json, title, rows)


def add_commands(subparsers) -> None:
    """Add the ``pim-gemv`` subcommand to an argparse subparsers object."""
    q = subparsers.add_parser("pim-gemv", help="simulate a GEMV on a PIM DRAM config",
                              description="Cycle-accurate GEMV on in-bank MAC units.")
    q.add_argument("pim", help="PIM preset name (gddr6-aim, hbm3-attacc...) or YAML file")
    q.add_argument("--rows", type=int, required=True)
    q.add_argument("--cols", type=int, required=True)
    q.add_argument("--dtype", default=None, help="bf16, fp16, int8, fp8, fp32 (default: the "
                   "MAC units' type)")
    q.add_argument("--channels", type=int, default=None)
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=_pim_gemv)


def is_pim_doc(data) -> bool:
    """A PIM config has a PIM key, or no DRAM spec key and extends a PIM preset."""
    if set(PIM_KEYS) & set(data):
        return True
    if set(SPEC_KEYS) & set(data):
        return False
    ext = data.get("extends")
    if isinstance(ext, str):
        from ..config.presets import list_presets
        return ext in list_presets("pim")
    return False


def check_file(path, doc):
    """For ``archsim check``: validate a PIM config file; ``None`` if it is not one."""
    data = doc.data if isinstance(doc.data, dict) else {}
    if is_pim_doc(data):
        from .spec import load_pim
        pim = load_pim(path)
        return f"PIM config {pim.config.name!r} ({pim.peak_flops / 1e12:.3f} TFLOPS peak)"
    return None
