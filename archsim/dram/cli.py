"""``archsim dram`` subcommand (``archsim pim-gemv`` is in :mod:`archsim.pim.cli`).

The main CLI calls :func:`add_commands` with its argparse subparsers object; each subcommand sets
``func`` to a callable ``(args) -> int`` exit code. Bad input raises
:class:`~archsim.errors.ConfigError` (the main CLI prints it on one line and exits 2).
"""
from __future__ import annotations

import json
import time

import numpy as np

from ..errors import ConfigError
from .traces import FORMATS, read_trace  # noqa: F401  (read_trace: importable here too)


def stream_requests(spec, n: int, read_ratio: float = 1.0, seed: int = 0):
    """Sequential addresses (one access each); a ``1 - read_ratio`` random share are writes."""
    rng = np.random.default_rng(seed)
    addr = np.arange(n, dtype=np.int64) * spec.org.access_bytes
    wr = rng.random(n) >= read_ratio if read_ratio < 1 else np.zeros(n, bool)
    return addr, wr, None


def random_requests(spec, n: int, read_ratio: float = 1.0, seed: int = 0):
    """Uniformly random access-aligned addresses over the whole capacity."""
    rng = np.random.default_rng(seed)
    o = spec.org
    cap = spec.n_channels * o.ranks * spec.banks_per_rank * o.rows * int(o.row_size_bytes)
    addr = rng.integers(0, cap // o.access_bytes, n, dtype=np.int64) * o.access_bytes
    wr = rng.random(n) >= read_ratio
    return addr, wr, None


def _dram(args) -> int:
    from .controller import simulate
    from .spec import load_spec
    ctrl = {}
    if args.mapping:
        ctrl["mapping"] = args.mapping
    if args.row_policy:
        ctrl["row_policy"] = args.row_policy
    if args.refresh:
        ctrl["refresh"] = args.refresh
    from ..command_guards import MAX_DRAM_REQUESTS, check_work, estimate_dram
    from ..progress import progress_bar
    spec = load_spec(args.spec, **ctrl)

    def guard(n):
        check_work(estimate_dram(n), max_units=MAX_DRAM_REQUESTS, force=args.force,
                   hint="Use fewer requests (--requests, a shorter --trace)")
    if args.trace:
        addr, wr, arr = read_trace(args.trace, args.trace_format, spec.capacity_bytes)
        guard(len(addr))
    else:
        if args.requests is None or args.requests < 1:
            raise ConfigError("--requests N (N >= 1) is needed without --trace")
        if not 0.0 <= args.read_ratio <= 1.0:
            raise ConfigError(f"--read-ratio must be within 0..1, got {args.read_ratio}")
        guard(args.requests)   # before the requests are generated
        gen = stream_requests if args.pattern == "stream" else random_requests
        addr, wr, arr = gen(spec, args.requests, args.read_ratio, args.seed)
    # load/compile the numba kernel first so requests_per_s measures simulation only
    simulate(spec, addr[:1], wr[:1], None if arr is None else arr[:1])
    bar = progress_bar(len(addr), "request", "dram")
    t0 = time.perf_counter()
    res = simulate(spec, addr, wr, arr, progress=bar)
    wall = time.perf_counter() - t0
    bar.close()
    out = {
        "spec": spec.name,
        "requests": int(len(addr)),
        "cycles": int(res.cycles),
        "time_ns": res.time_s * 1e9,
        "bandwidth_gbps": res.bandwidth_bytes_per_s / 1e9,
        "peak_bandwidth_gbps": spec.peak_bandwidth_bytes_per_s / 1e9,
        "avg_latency_ns": res.avg_read_latency_ns,
        "p99_latency_ns": res.p99_read_latency_ns,
        "commands": res.commands,
        "energy_pj": res.energy.total_pj,
        "requests_per_s": len(addr) / wall if wall > 0 else float("inf"),
    }
    title = (f"DRAM {spec.name}: {out['requests']} requests, mapping {spec.controller.mapping}, "
             f"{spec.controller.row_policy}-row, {spec.controller.refresh} refresh")
    rows = [("cycles", f"{out['cycles']}"), ("time", f"{out['time_ns']:.1f} ns"),
            ("bandwidth", f"{out['bandwidth_gbps']:.2f} GB/s of {out['peak_bandwidth_gbps']:.2f}"
             f" GB/s peak ({100 * out['bandwidth_gbps'] / out['peak_bandwidth_gbps']:.1f} %)"),
            ("read latency", f"avg {out['avg_latency_ns']:.1f} ns, p99 "
             f"{out['p99_latency_ns']:.1f} ns (queue entry to first data)"),
            ("energy", f"{out['energy_pj'] / 1e6:.3f} uJ"),
            ("commands", ", ".join(f"{k} {v}" for k, v in out["commands"].items())),
            ("simulator speed", f"{out['requests_per_s']:.3g} requests/s")]
    return report(out, args.json, title, rows)


def report(out: dict, as_json: bool, title: str, rows) -> int:
    """Print ``out`` as JSON, or ``title`` and the aligned ``(label, text)`` ``rows``; exit 0."""
    if as_json:
        print(json.dumps(out, indent=2))
        return 0
    print(title)
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")
    return 0


def add_commands(subparsers) -> None:
    """Add the ``dram`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser("dram", help="simulate a memory request stream on a DRAM spec",
                              description="Cycle-accurate DRAM simulation (FR-FCFS controller).")
    p.add_argument("spec", help="DRAM preset name (hbm2, hbm3, gddr6, lpddr5...) or YAML file")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--pattern", choices=["stream", "random"], default="stream")
    src.add_argument("--trace", help="request trace: archsim '[cycle] <address> <R|W>', "
                     "Ramulator 2 '<LD|ST> <address>' or DRAMsim3 '<hex address> <READ|WRITE> "
                     "<cycle>' (addresses: hex only with 0x, decimal otherwise)")
    p.add_argument("--trace-format", choices=FORMATS, default="auto",
                   help="trace format (auto: from the first line)")
    p.add_argument("--requests", type=int, help="number of generated requests")
    p.add_argument("--read-ratio", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mapping", help="address mapping, e.g. RoBaCoBgRaPcCh")
    p.add_argument("--row-policy", choices=["open", "closed"])
    p.add_argument("--refresh", choices=["per_bank", "all_bank", "none"])
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--force", action="store_true", help="run even when the up-front estimate "
                   "of work or memory is above the limits")
    p.set_defaults(func=_dram)


#: top-level keys of a DRAM spec (a PIM config may have ``organization`` too: ``archsim check``
#: asks :mod:`archsim.pim.cli` first)
SPEC_KEYS = ("standard", "organization", "power", "controller")


def is_spec_doc(data) -> bool | None:
    """True if ``data`` has DRAM spec keys or extends a DRAM preset, else None."""
    if set(SPEC_KEYS) & set(data):
        return True
    ext = data.get("extends")
    if isinstance(ext, str):
        from ..config.presets import list_presets
        if ext in list_presets("dram"):
            return True
    return None


def check_file(path, doc):
    """For ``archsim check``: validate a DRAM spec file; ``None`` if it is not one."""
    data = doc.data if isinstance(doc.data, dict) else {}
    if is_spec_doc(data):
        from .spec import load_spec
        spec = load_spec(path)
        return f"DRAM spec {spec.config.name!r} ({spec.config.standard})"
    return None
