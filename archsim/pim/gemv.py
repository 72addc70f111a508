"""Processing-in-memory on DRAM banks: MAC units, all-bank commands, and a cycle-accurate GEMV.

Modelled after SK hynix GDDR6-AiM (ISSCC 2022; Hot Chips 2022: 16 bf16 MAC lanes per bank at
1 GHz, 32 banks per chip, 1 TFLOPS; all-bank commands MAC_ABK, WR_GB, RD_MAC as in CENT's
aim_simulator), Samsung HBM-PIM (ISSCC 2021/ISCA 2021: one unit per bank pair) and AttAcc
(ASPLOS 2024: per-bank and per-bank-group units on HBM3, MACAB with a power-limited nCCDAB of 6 vs
4 cycles). A MAC *unit* sits at each bank (``unit_level: bank``), bank pair or bank group.

The commands (ACTAB, MACAB, WRGB, RDMAC, PREA) and their timing rules are data in
:mod:`archsim.pim.commands`; configuration, loading and the energy table are in
:mod:`archsim.pim.spec`; the multi-head attention stream (head concatenation) is in
:mod:`archsim.pim.attention`.

GEMV ``y = W x`` (``W`` is rows x cols): by default matrix rows are dealt round-robin to
(channel, unit); a unit's rows are stored one DRAM row per segment of ``segment`` elements (the
global buffer / unit row capacity). For each segment the host writes that slice of ``x`` into
every channel's global buffer (WRGB), then for each group of ``units`` matrix rows issues ACTAB,
the MACABs over the segment, RDMAC for the partial results and PREA. Partial sums of segments are
added outside the DRAM (by the host/ASIC). Channels run in parallel; the time is the slowest
channel's. The PIM config's ``mapping`` section changes this as data: ``gemv_split: cols``
splits the reduction over the channels instead of the rows, ``result_registers`` lets several
row groups MAC into their own registers and be read back to back (CENT's "reuse-GB" GEMV order
on AiM), ``accumulate_across_rows`` keeps a register accumulating across PREA/ACTAB so a matrix
row is read out once (:func:`gemv_stream`). Attention fits the same call: scores ``K q`` are a
GEMV with rows = tokens and cols = head dim (K cache rows in banks), context ``V^T p`` one with
rows = head dim, cols = tokens (``context_split`` may lay it out apart).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..dram.controller import CommandLog
from ..dram.energy import EnergyReport
from ..dram.timing import LOG_COLS
from ..errors import ConfigError
from .kernel import (I_ACTAB, I_LOGCAP, I_NBA, I_NBG, I_NR, I_REFAB, I_REFI, I_REFON, I_WIDE,
                     NPARAM, inorder_kernel_nb, inorder_kernel_py)
from .spec import DTYPE_BYTES, PimSpec, load_pim

__all__ = ["GemvResult", "segments", "gemv_split", "gemv_layout", "gemv_stream",
           "stream_arrays", "run_stream", "clear_memo", "resolve_call", "simulate_gemv",
           "gemv_command_log", "make_result", "streams_log"]

@dataclass(frozen=True)
class GemvResult:
    """Result of one GEMV on PIM. Integer cycles and counts; energy as counts x table."""

    rows: int
    cols: int
    dtype: str
    channels: int
    cycles: int
    time_s: float
    commands: dict
    energy: EnergyReport = field(repr=False)
    macs: int
    peak_macs_per_s: float

    @property
    def time_ns(self) -> float:
        return self.time_s * 1e9

    @property
    def energy_pj(self) -> float:
        return self.energy.total_pj

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def utilization(self) -> float:
        """Achieved MAC rate over the peak MAC rate of the channels used."""
        return self.macs / (self.time_s * self.peak_macs_per_s) if self.time_s > 0 else 0.0


def segments(pim: PimSpec, cols: int, dtype: str) -> tuple:
    """``(macs, wrgb)`` per segment of a ``cols``-long matrix row: MACABs and WRGB accesses of
    each segment of ``segment`` elements (the smaller of a unit's DRAM row and the buffer)."""
    db = DTYPE_BYTES[dtype]
    ab = pim.org.access_bytes
    epa = ab // db  # elements per access
    row_elems = pim.banks_per_unit * int(pim.org.row_size_bytes) // db
    gb_elems = int(pim.config.global_buffer_bytes) // db
    seg = max(epa, min(row_elems, gb_elems) // epa * epa)
    lens = [min(seg, cols - s * seg) for s in range(-(-cols // seg))]
    return tuple(-(-ln // epa) for ln in lens), tuple(-(-ln * db // ab) for ln in lens)


def gemv_split(pim: PimSpec, context: bool = False) -> str:
    """``mapping.gemv_split`` (or, for an attention-context GEMV, ``mapping.context_split``
    when set) of ``pim``: ``rows`` without a mapping section."""
    m = pim.config.mapping
    if m is None:
        return "rows"
    return m.context_split if context and m.context_split is not None else m.gemv_split


def gemv_layout(pim: PimSpec, rows: int, cols: int, dtype: str, channels: int,
                split: Optional[str] = None):
    """How ``rows x cols`` is laid out over ``channels``: ``(rdmac, shares)`` with the RDMAC
    accesses that read one result register of every unit of a channel, and one
    ``(rows, macs, wrgb)`` per channel (its matrix rows, and per segment of its share of a row
    the MACABs and WRGB accesses) for :func:`gemv_stream`.

    ``split`` (default ``mapping.gemv_split``): ``rows`` deals the matrix rows round-robin to
    the channels, each channel the whole reduction; ``cols`` gives every channel all rows and a
    share of the reduction, split at access boundaries (the host adds the channels' partial
    sums, like the segments' partial sums, uncharged).
    """
    ab = pim.org.access_bytes
    rdmac = -(-pim.units_per_channel * pim.config.mac.result_bytes // ab)
    split = split or gemv_split(pim)
    if split not in ("rows", "cols"):
        raise ConfigError(f"GEMV split must be rows or cols, got {split!r}")
    if split == "rows":
        per = segments(pim, cols, dtype)
        return rdmac, [(rows // channels + (1 if c < rows % channels else 0), *per)
                       for c in range(channels)]
    epa = ab // DTYPE_BYTES[dtype]
    acc = -(-cols // epa)
    shares, left = [], cols
    for c in range(channels):
        n = min(left, (acc // channels + (1 if c < acc % channels else 0)) * epa)
        left -= n
        shares.append((rows, *segments(pim, n, dtype)) if n else (0, (), ()))
    return rdmac, shares


def gemv_stream(pim: PimSpec, rows_in_channel: int, macs, wrgb, rdmac: int):
    """The command stream of one channel: (cmd, rank, bg, bank, row) int64 arrays.

    Row groups (one matrix row per unit) are taken ``mapping.result_registers`` (R) at a time,
    each MACing into its own result register; the R groups' results are read back to back
    (RDMAC) after the batch's last MACAB, before its PREA. Without
    ``mapping.accumulate_across_rows`` every segment is read out (the host adds the partial
    sums) and the loop is segment-major: each segment's input slice is written into the global
    buffer (WRGB) once, then every batch of groups runs on it. With it, a register keeps
    accumulating across PREA/ACTAB: the loop is batch-major, each batch takes every segment
    (odd batches in reverse order, so a batch starts with the segment the buffer holds), the
    buffer is re-written whenever it does not hold the segment, and each group is read once,
    after its batch's last segment. R = 1 without accumulation is one ACTAB, MACABs, RDMAC, PREA
    per group and segment.
    """
    U = pim.units_per_channel
    CMD = pim.command_set.id
    m = pim.config.mapping
    R = 1 if m is None else m.result_registers
    accumulate = m is not None and m.accumulate_across_rows
    groups = -(-rows_in_channel // U)
    nseg = len(macs)
    parts_cmd, parts_row = [], []
    if groups == 0:   # a channel without matrix rows gets no input vector either
        return stream_arrays(parts_cmd, parts_row)
    batches = [(b, min(R, groups - b)) for b in range(0, groups, R)]
    if accumulate:   # odd batches take the segments backwards, from the one the buffer holds
        order = [(bt, s, k == nseg - 1) for i, bt in enumerate(batches)
                 for k, s in enumerate(range(nseg) if i % 2 == 0 else range(nseg - 1, -1, -1))]
    else:
        order = [(bt, s, True) for s in range(nseg) for bt in batches]
    held = -1     # the segment the global buffer holds
    for (b0, n), s, read in order:
        if held != s:
            parts_cmd.append(np.full(wrgb[s], CMD["WRGB"], np.int64))
            parts_row.append(np.full(wrgb[s], -1, np.int64))
            held = s
        reads = rdmac * n if read else 0
        block = np.concatenate([[CMD["ACTAB"]], np.full(macs[s], CMD["MACAB"]),
                                [CMD["PREA"]]]).astype(np.int64)
        last = np.concatenate([[CMD["ACTAB"]], np.full(macs[s], CMD["MACAB"]),
                               np.full(reads, CMD["RDMAC"]), [CMD["PREA"]]]).astype(np.int64)
        rows = (b0 + np.arange(n, dtype=np.int64)) * nseg + s
        parts_cmd += [np.tile(block, n - 1), last]
        parts_row += [np.repeat(rows[:-1], len(block)), np.full(len(last), rows[-1], np.int64)]
    return stream_arrays(parts_cmd, parts_row)


def stream_arrays(cmd_parts, row_parts) -> tuple:
    """Join command and row pieces into the ``(cmd, rank, bg, bank, row)`` arrays of an all-bank
    stream (rank, bank group and bank are 0: every command addresses the whole channel)."""
    cmd = np.concatenate(cmd_parts) if cmd_parts else np.zeros(0, np.int64)
    row = np.concatenate(row_parts) if row_parts else np.zeros(0, np.int64)
    z = np.zeros(len(cmd), np.int64)
    return cmd, z, z.copy(), z.copy(), row


def inorder_params(pim: PimSpec, cap: int, size: int = NPARAM) -> np.ndarray:
    """The in-order kernels' parameter vector (:mod:`archsim.pim.kernel` indices ``I_*``) of
    ``pim`` with a log of ``cap`` rows; ``size`` > ``NPARAM`` leaves room for a kernel's own."""
    cs = pim.command_set
    prm = np.zeros(size, np.int64)
    prm[I_NBG] = pim.org.bank_groups
    prm[I_NBA] = pim.org.banks_per_group
    prm[I_REFON] = 1 if pim.config.refresh else 0
    prm[I_REFI] = pim.dram.timings["nREFI"]
    prm[I_LOGCAP] = cap
    prm[I_ACTAB] = cs.id["ACTAB"]
    prm[I_REFAB] = cs.id["REFab"]
    prm[I_NR] = pim.org.ranks
    prm[I_WIDE] = wide_mask(pim)
    return prm


def run_stream(pim: PimSpec, dtype: str, cmd, rank, bg, bank, row, *, log=False,
               engine="numba"):
    """Schedule one channel's stream; returns (end cycle, counts array, log rows or None)."""
    _t, _c, tb = pim.constraints_for(dtype)
    cs = pim.command_set
    kern = inorder_kernel_nb if engine == "numba" else inorder_kernel_py
    cap = (len(cmd) + len(cmd) // 4 + 64) if log else 0
    while True:
        prm = inorder_params(pim, cap)
        logarr = np.zeros((max(cap, 1), LOG_COLS), np.int64)
        counts = np.zeros(len(cs), np.int64)
        stats = np.zeros(2, np.int64)
        kern(cmd, rank, bg, bank, row, prm, *tb.arrays(), logarr, counts, stats)
        if not log or stats[1] <= cap:
            return int(stats[0]), counts, (logarr[: stats[1]] if log else None)
        cap = int(stats[1])


def wide_mask(pim: PimSpec) -> int:
    """Bit mask of the command ids scoped to the whole stream (every rank it covers)."""
    if pim.org.ranks == 1:
        return 0
    return sum(1 << i for i, c in enumerate(pim.command_set.commands) if c.scope == "channel")


_MEMO: dict = {}


def clear_memo() -> None:
    """Forget memoized GEMV results."""
    _MEMO.clear()


def resolve_call(pim, dtype, channels) -> tuple:
    """``(PimSpec, dtype, channel count)`` for a kernel call, with the defaults filled in and
    checked: the MAC units' dtype, all of the device's channels."""
    pim = load_pim(pim)
    dtype = dtype or pim.config.mac.dtype
    if dtype not in DTYPE_BYTES:
        raise ConfigError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPE_BYTES)}")
    nch = pim.n_channels if channels is None else int(channels)
    if not 1 <= nch <= pim.n_channels:
        raise ConfigError(f"channels must be 1..{pim.n_channels}, got {channels}")
    return pim, dtype, nch


def simulate_gemv(pim, rows: int, cols: int, dtype: Optional[str] = None, *,
                  channels: Optional[int] = None, memo: bool = True,
                  engine: str = "numba", split: Optional[str] = None) -> GemvResult:
    """Cycle-accurate GEMV ``y = W x`` with ``W`` of ``rows x cols`` stored in the PIM banks.

    Parameters
    ----------
    pim : PimSpec, str or path
        From :func:`load_pim` (or a preset name / YAML path).
    rows, cols : int
        Matrix shape (output length, reduction length).
    dtype : str, optional
        Element type (``bf16``, ``fp16``, ``int8``, ``fp8``, ``fp32``); default the MAC units'.
    channels : int, optional
        Channels the matrix is spread over (default all of the PIM device's channels).
    memo : bool
        Reuse the result of an identical (config, rows, cols, dtype, channels) call. Memoized
        and fresh results are identical (the simulation is deterministic).
    engine : {"numba", "python"}
    split : {"rows", "cols"}, optional
        Matrix rows or the reduction over the channels (default ``mapping.gemv_split``;
        :func:`gemv_split` with ``context=True`` gives an attention context's).

    Returns
    -------
    GemvResult
    """
    pim, dtype, nch = resolve_call(pim, dtype, channels)
    if rows < 1 or cols < 1:
        raise ConfigError(f"matrix shape must be positive, got {rows} x {cols}")
    split = split or gemv_split(pim)
    key = (pim.key, int(rows), int(cols), dtype, nch, split)
    if memo:
        hit = _MEMO.get(key)
        if hit is not None:
            return hit
    rdmac, shares = gemv_layout(pim, rows, cols, dtype, nch, split)
    counts = np.zeros(len(pim.command_set), np.int64)
    end = 0
    for share in sorted(set(shares)):
        mult = shares.count(share)
        stream = gemv_stream(pim, *share, rdmac)
        cyc, cnt, _ = run_stream(pim, dtype, *stream, engine=engine)
        counts += cnt * mult
        end = max(end, cyc)
    res = make_result(pim, dtype, nch, end, counts, int(rows), int(cols))
    if memo:
        _MEMO[key] = res
    return res


def make_result(pim: PimSpec, dtype: str, nch: int, end: int, counts, rows: int,
                cols: int) -> GemvResult:
    """A :class:`GemvResult` from the slowest channel's end cycle and the summed counts
    (energy = counts x the PIM energy table + active-standby background of the channels)."""
    names = pim.command_set.names
    cmd_counts = {name: int(counts[i]) for i, name in enumerate(names) if counts[i]}
    table = pim.energy_table(dtype)
    cmd_pj = {k: n * table.per_command_pj.get(k, 0.0) for k, n in cmd_counts.items()}
    io_bits = (cmd_counts.get("WRGB", 0) + cmd_counts.get("RDMAC", 0)) * table.bits_per_access
    bg = end * nch * table.act_standby_pj_per_cycle
    energy = EnergyReport(counts=cmd_counts, table=table, command_pj=cmd_pj,
                          background_pj=float(bg), io_pj=float(io_bits * table.io_pj_per_bit))
    unit_share = nch * pim.units_per_channel * pim.config.mac.lanes * pim.config.mac.clock_hz
    return GemvResult(rows=rows, cols=cols, dtype=dtype, channels=nch, cycles=int(end),
                      time_s=end * pim.tck_s, commands=cmd_counts, energy=energy,
                      macs=rows * cols, peak_macs_per_s=unit_share)


def streams_log(pim: PimSpec, dtype: str, streams, engine: str = "numba"):
    """Issued-command log of one stream per channel, as a :class:`CommandLog` for the checker."""
    parts = []
    for c, st in enumerate(streams):
        _cyc, _cnt, lg = run_stream(pim, dtype, *st, log=True, engine=engine)
        parts.append(np.column_stack([lg, np.full(len(lg), c, np.int64)]))
    a = np.concatenate(parts)
    return CommandLog(cycle=a[:, 0], command=a[:, 1], channel=a[:, 8], rank=a[:, 2],
                      bank_group=a[:, 3], bank=a[:, 4], row=a[:, 5], column=a[:, 6],
                      request=a[:, 7])


def gemv_command_log(pim, rows: int, cols: int, dtype: Optional[str] = None, *,
                     channels: Optional[int] = None, engine: str = "numba",
                     split: Optional[str] = None):
    """Issued-command log of a GEMV (all channels) for :func:`archsim.dram.checker.check_log`."""
    pim = load_pim(pim)
    dtype = dtype or pim.config.mac.dtype
    nch = pim.n_channels if channels is None else int(channels)
    rdmac, shares = gemv_layout(pim, rows, cols, dtype, nch, split)
    return streams_log(pim, dtype, [gemv_stream(pim, *sh, rdmac) for sh in shares], engine)
