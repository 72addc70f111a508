"""HBM traffic of an FPGA engine, simulated command by command with :mod:`archsim.dram`.

An engine streams a tensor over the ``channels`` pseudo-channels (PCs) it is given: each PC
holds ``1 / channels`` of the bytes in its own region of the address space (on the U280 every PC
is a 256 MB AXI region, UG1393) and the engine reads (or writes) them in a pattern:

* ``sequential``: the PC's bytes in address order (weights, a head-major KV cache);
* ``chunked(chunk, stride)``: runs of ``chunk`` bytes at a distance of ``stride`` bytes, all
  runs of one offset before the next (a per-head read of a token-major KV cache: one head's key
  of every token, then the next head's).

The requests go through :func:`archsim.dram.simulate` (FR-FCFS controllers per PC, bank and
bus timing, refresh, row hits and conflicts), so the efficiency of an access pattern, and the
loss of a strided one against a sequential one, come out of the simulation. Only the public API
of :mod:`archsim.dram` is used.

Whole weight streams (gigabytes per token) are not simulated request by request. Per pattern,
two lengths per PC (``L`` and ``2 L``) are simulated and the stream is costed as the affine
function through them: ``cycles(b) = fixed + b / rate`` with ``rate`` the steady-state bytes per
cycle and ``fixed`` the fill and drain, and commands per byte at the steady-state mix. Streams of
at most ``2 L`` bytes per PC are simulated exactly. Results are memoized per pattern (profiles)
and per exact length.

What is not modelled: the U280's AXI crossbar (lateral accesses between switch segments lose
throughput, PG276 "Lateral AXI Switch Access Throughput Loss") and the AXI port clock (a 256-bit
port at 450 MHz, 14.4 GB/s, matches the PC's rate). Engines here address only their own PCs.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: bytes per PC simulated for a pattern's steady state (L); 2 L is the second point
PROFILE_BYTES_PER_CHANNEL = 64 * 1024


@dataclass(frozen=True)
class StreamCost:
    """Cycles (of the HBM clock), command counts and data moved by one stream."""

    cycles: float
    commands: dict
    bytes: int
    channels: int

    @property
    def channel_cycles(self) -> float:
        return self.cycles * self.channels


@lru_cache(maxsize=8)
def load_hbm(name: str):
    """The :class:`archsim.dram.DramSpec` of an FPGA card's HBM (a preset of
    ``archsim/presets/fpga`` or a ``.yaml`` path)."""
    from ..config.presets import locate
    from ..dram import load_spec
    return load_spec(locate(name, "fpga", what="HBM spec"))


def _addresses(spec, channels: int, per_channel: int, chunk: int, stride: int) -> np.ndarray:
    """Byte addresses of ``per_channel`` bytes on each of PCs ``0 .. channels-1``."""
    org = spec.org
    acc = org.access_bytes
    pc_bytes = (org.rows * org.bank_groups * org.banks_per_group * org.ranks
                * int(org.row_size_bytes))
    n = -(-per_channel // acc)
    if chunk >= stride:                       # sequential
        local = np.arange(n, dtype=np.int64) * acc
    else:
        per_chunk = -(-chunk // acc)
        runs = stride // chunk                # chunk offsets inside one stride (e.g. heads)
        tokens = -(-n // (per_chunk * runs))
        o, t, b = np.meshgrid(np.arange(runs), np.arange(tokens), np.arange(per_chunk),
                              indexing="ij")
        local = (t * stride + o * chunk + b * acc).ravel()[:n].astype(np.int64)
    # requests of all PCs interleaved in issue order (one per PC in turn)
    base = np.arange(channels, dtype=np.int64) * pc_bytes
    return (local[:, None] + base[None, :]).ravel()


@lru_cache(maxsize=4096)
def simulate_stream(hbm: str, channels: int, per_channel: int, chunk: int, stride: int,
                    write: bool) -> StreamCost:
    """Simulate ``per_channel`` bytes on each of ``channels`` PCs exactly (memoized)."""
    from ..dram import simulate
    spec = load_hbm(hbm)
    addr = _addresses(spec, channels, per_channel, chunk, stride)
    res = simulate(spec, addr, np.full(len(addr), bool(write)))
    return StreamCost(float(res.cycles), dict(res.commands), int(res.bytes), channels)


@lru_cache(maxsize=256)
def _profile(hbm: str, channels: int, chunk: int, stride: int, write: bool) -> tuple:
    """``(fixed cycles, bytes per cycle, commands per byte)`` from two simulated lengths."""
    L = max(PROFILE_BYTES_PER_CHANNEL, 32 * stride)
    a = simulate_stream(hbm, channels, L, chunk, stride, write)
    b = simulate_stream(hbm, channels, 2 * L, chunk, stride, write)
    rate = (b.bytes - a.bytes) / max(b.cycles - a.cycles, 1.0)
    fixed = max(a.cycles - a.bytes / rate, 0.0)
    per_byte = {k: (b.commands.get(k, 0) - a.commands.get(k, 0)) / (b.bytes - a.bytes)
                for k in set(a.commands) | set(b.commands)}
    return fixed, rate, per_byte, 2 * L


def stream(hbm: str, channels: int, nbytes: int, *, chunk: int = 0, stride: int = 0,
           write: bool = False) -> StreamCost:
    """Cost of moving ``nbytes`` over ``channels`` PCs in a pattern (module docstring).

    ``chunk = stride = 0`` (or ``chunk >= stride``) is sequential.
    """
    if nbytes <= 0:
        return StreamCost(0.0, {}, 0, channels)
    if chunk <= 0 or stride <= 0 or chunk >= stride:
        chunk = stride = 0
    acc = load_hbm(hbm).org.access_bytes
    per = -(-int(nbytes) // channels)
    per = -(-per // acc) * acc
    fixed, rate, per_byte, exact_limit = _profile(hbm, channels, chunk, stride, write)
    if per <= exact_limit:
        return simulate_stream(hbm, channels, per, chunk, stride, write)
    moved = per * channels
    # commands are whole: the steady-state mix, rounded
    return StreamCost(fixed + moved / rate,
                      {k: round(v * moved) for k, v in per_byte.items()}, moved, channels)


def efficiency(hbm: str, channels: int, *, chunk: int = 0, stride: int = 0,
               write: bool = False) -> float:
    """Steady-state fraction of the PCs' peak bandwidth an access pattern reaches (simulated)."""
    spec = load_hbm(hbm)
    _, rate, _, _ = _profile(hbm, channels, chunk if chunk < stride else 0,
                             stride if chunk < stride else 0, write)
    peak = channels * spec.org.access_bytes / spec.timings["nBL"]
    return rate / peak


@lru_cache(maxsize=8)
def energy_table(hbm: str):
    """The DRAM core's IDD-based energy table of the HBM (taken from a one-request
    simulation's report, the public way to reach it)."""
    from ..dram import simulate
    spec = load_hbm(hbm)
    return simulate(spec, np.zeros(1, np.int64), np.zeros(1, bool)).energy.table


def clock_s(hbm: str) -> float:
    """HBM clock period in seconds."""
    return load_hbm(hbm).tck_s


def peak_bytes_per_s(hbm: str, channels: int) -> float:
    spec = load_hbm(hbm)
    return channels * spec.org.access_bytes / (spec.timings["nBL"] * spec.tck_s)


__all__ = ["StreamCost", "stream", "efficiency", "energy_table", "load_hbm", "clock_s",
           "peak_bytes_per_s", "simulate_stream"]
