"""Processing-in-memory on DRAM banks: MAC units, all-bank commands, and a cycle-accurate GEMV.

Modelled after SK hynix GDDR6-AiM (ISSCC 2022; Hot Chips 2022: 16 bf16 MAC lanes per bank at
1 GHz, 32 banks per chip, 1 TFLOPS; all-bank commands MAC_ABK, WR_GB, RD_MAC as in CENT's
aim_simulator), Samsung HBM-PIM (ISSCC 2021/ISCA 2021: one unit per bank pair) and AttAcc
(ASPLOS 2024: per-bank and per-bank-group units on HBM3, MACAB with a power-limited nCCDAB of 6 vs
4 cycles). A MAC *unit* sits at each bank (``unit_level: bank``), bank pair or bank group.

Commands (all scoped to a rank, i.e. to all banks of a channel, except the bus commands):

========  =======================================================================================
ACTAB     activate the same row in every bank (all banks must be closed)
MACAB     every unit reads one column (one access of ``access_bytes``) from its bank and multiplies
          it with the matching slice of the global buffer, accumulating in its result register
WRGB      write one access of the input vector into the global buffer (uses the data bus, like WR)
RDMAC     read one access of result registers out over the data bus (like RD)
PREA      precharge all banks
========  =======================================================================================

PIM timing rules (added to the DRAM standard's table; latencies in DRAM cycles):
ACTAB->MACAB ``nRCD_AB``; MACAB->MACAB ``nCCD_AB`` (raised to the MAC units' own rate
``ceil(elements per access / lanes / f_mac / tCK)`` if that is slower); MACAB->RDMAC ``nMAC_RD``;
WRGB->MACAB ``nWRGB_MAC``; ACTAB->ACTAB ``nRC_AB``; ACTAB->PREA ``nRAS``; MACAB->PREA ``nRTP``;
PREA->ACTAB ``nRPab``; REFab<->ACTAB ``nRFC``/``nRC``; bus rules for WRGB/RDMAC as WR/RD.

GEMV ``y = W x`` (``W`` is rows x cols): matrix rows are dealt round-robin to (channel, unit); a
unit's rows are stored one DRAM row per segment of ``segment`` elements (the global buffer / unit
row capacity). For each segment the host writes that slice of ``x`` into every channel's global
buffer (WRGB), then for each group of ``units`` matrix rows issues ACTAB, the MACABs over the
segment, RDMAC for the partial results and PREA. Partial sums of segments are added outside the
DRAM (by the host/ASIC, as in AiM and PIM-GPT). Channels run in parallel; the time is the slowest
channel's. Attention fits the same call: scores ``K q`` are a GEMV with rows = tokens and cols =
head dim (K cache rows in banks), context ``V^T p`` one with rows = head dim, cols = tokens.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, Optional

import numpy as np

from ..config.presets import list_presets, load_preset
from ..config.schema import from_located, param, quantity
from ..config.yamlio import Located, load_file
from ..errors import ConfigError
from .energy import EnergyReport, EnergyTable, energy_table
from .pim_kernel import I_LOGCAP, I_NBA, I_NBG, I_REFI, I_REFON, inorder_kernel_nb, \
    inorder_kernel_py
from .spec import ConstraintTables, TimingValue, load_spec
from .standards import CMD, COMMANDS, NCMD, evaluate_rules

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}

PIM_RULES = (
    ("rank", ("PREA",), ("ACTAB",), ("nRPab",), 0),
    ("rank", ("REFab",), ("ACTAB",), ("nRFC",), 0),
    ("rank", ("ACTAB",), ("REFab",), ("nRC",), 0),
    ("rank", ("ACTAB",), ("ACTAB",), ("nRC_AB",), 0),
    ("rank", ("ACTAB",), ("MACAB",), ("nRCD_AB",), 0),
    ("rank", ("ACTAB",), ("PREA",), ("nRAS",), 0),
    ("rank", ("MACAB",), ("MACAB",), ("nCCD_AB_eff",), 0),
    ("rank", ("MACAB",), ("PREA",), ("nRTP",), 0),
    ("rank", ("MACAB",), ("RDMAC",), ("nMAC_RD",), 0),
    ("rank", ("RDMAC",), ("MACAB",), ("nCCD_L",), 0),
    ("channel", ("WRGB",), ("MACAB",), ("nWRGB_MAC",), 0),
    ("channel", ("WRGB",), ("WRGB",), ("nBL",), 0),
    ("channel", ("RDMAC",), ("RDMAC",), ("nBL",), 0),
    ("channel", ("RDMAC",), ("WRGB",), ("nCL", "nBL", "nTA", "-nCWL"), 0),
    ("channel", ("WRGB",), ("RDMAC",), ("nCWL", "nBL", "nWTR_S"), 0),
    ("rank", ("RDMAC",), ("PREA",), ("nRTP",), 0),
)


@dataclass(frozen=True)
class MacUnits:
    """The MAC units: where they sit, how wide, what type, how fast."""

    unit_level: Literal["bank", "bank_pair", "bank_group"] = param()
    lanes: int = param(min=1)
    dtype: Literal["fp32", "fp16", "bf16", "fp8", "int8"] = param()
    clock_hz: float = quantity("frequency", min=0, min_exclusive=True)
    mac_energy_j_per_flop: float = quantity("energy_per_flop", min=0,
                                            doc="energy of one lane MAC (write as pJ/MAC)")
    source: str = param()
    result_bytes: int = param(default=4, min=1, doc="bytes per unit result register read out")


@dataclass(frozen=True)
class PimTiming:
    """PIM command timings in DRAM cycles (or durations, converted with ceil(t/tCK))."""

    nRCD_AB: TimingValue = param(doc="ACTAB to MACAB")
    nCCD_AB: TimingValue = param(doc="MACAB to MACAB (power-limited variants use more)")
    nMAC_RD: TimingValue = param(doc="MACAB to RDMAC (MAC pipeline)")
    nWRGB_MAC: TimingValue = param(doc="WRGB to MACAB")
    source: str = param()
    nRC_AB: Optional[TimingValue] = param(default=None, doc="ACTAB to ACTAB (default nRC)")


@dataclass(frozen=True)
class PimConfig:
    """A PIM YAML file: the DRAM part, the MAC units, the buffer and the PIM timings."""

    _preset_category = "pim"

    name: str = param()
    source: str = param()
    dram: str = param(doc="DRAM spec preset name or .yaml path (relative to this file)")
    mac: MacUnits = param()
    global_buffer_bytes: float = quantity("size", min=1)
    timing: PimTiming = param()
    refresh: bool = param(default=True, doc="insert all-bank refresh every nREFI")
    notes: Optional[str] = param(default=None)


@dataclass(frozen=True)
class PimSpec:
    """A loaded PIM configuration with its DRAM spec (no side effects, immutable)."""

    config: PimConfig
    dram: object = field(compare=False)

    # --- what the checker and kernels need (same names as DramSpec) -----------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def org(self):
        return self.dram.org

    @property
    def tck_s(self) -> float:
        return self.dram.tck_s

    @property
    def n_channels(self) -> int:
        return self.dram.n_channels

    @property
    def banks_per_rank(self) -> int:
        return self.dram.banks_per_rank

    @property
    def banks_per_unit(self) -> int:
        lv = self.config.mac.unit_level
        return {"bank": 1, "bank_pair": 2, "bank_group": self.org.banks_per_group}[lv]

    @property
    def units_per_channel(self) -> int:
        return self.banks_per_rank // self.banks_per_unit

    @property
    def peak_macs_per_s(self) -> float:
        m = self.config.mac
        return self.n_channels * self.units_per_channel * m.lanes * m.clock_hz

    @property
    def peak_flops(self) -> float:
        """2 FLOP per MAC x lanes x units x channels x MAC clock."""
        return 2.0 * self.peak_macs_per_s

    @cached_property
    def key(self) -> str:
        """A stable identity for memoization (the whole validated config)."""
        return repr(self.config) + repr(self.dram.config)

    def timings_for(self, dtype: str) -> dict:
        t = dict(self.dram.timings)
        pt = self.config.timing
        for name in ("nRCD_AB", "nCCD_AB", "nMAC_RD", "nWRGB_MAC", "nRC_AB"):
            v = getattr(pt, name)
            if v is not None:
                t[name] = v.to_cycles(self.tck_s)
        t.setdefault("nRC_AB", t["nRC"])
        # the MAC units' own rate: one access holds access_bytes/dtype elements for `lanes` lanes
        m = self.config.mac
        elems = self.org.access_bytes // DTYPE_BYTES[dtype]
        mac_s = math.ceil(elems / m.lanes) / m.clock_hz
        t["nCCD_AB_eff"] = max(t["nCCD_AB"], math.ceil(mac_s / self.tck_s - 1e-9))
        return t

    @cached_property
    def _per_dtype(self) -> dict:
        return {}

    def constraints_for(self, dtype: str):
        hit = self._per_dtype.get(dtype)
        if hit is None:
            t = self.timings_for(dtype)
            cons = tuple(self.dram.constraints) + evaluate_rules(PIM_RULES, t)
            hit = (t, cons, ConstraintTables.build(cons))
            self._per_dtype[dtype] = hit
        return hit

    # checker interface for the default dtype
    @property
    def timings(self) -> dict:
        return self.constraints_for(self.config.mac.dtype)[0]

    @property
    def constraints(self) -> tuple:
        return self.constraints_for(self.config.mac.dtype)[1]

    def energy_table(self, dtype: str) -> EnergyTable:
        """Per-command energy (pJ) of the all-bank commands, from the DRAM IDD table."""
        base = energy_table(self.dram)
        nb = self.banks_per_rank
        per = dict(base.per_command_pj)
        elems = self.org.access_bytes // DTYPE_BYTES[dtype]
        mac_pj = self.config.mac.mac_energy_j_per_flop * 2 * 1e12  # per MAC
        per["ACTAB"] = nb * base.per_command_pj["ACT"]
        # every bank reads one access internally (core read energy, no I/O), every unit MACs
        per["MACAB"] = nb * base.per_command_pj["RD"] + self.units_per_channel * elems * mac_pj
        per["WRGB"] = base.per_command_pj["WR"]
        per["RDMAC"] = base.per_command_pj["RD"]
        return EnergyTable(per, base.act_standby_pj_per_cycle, base.pre_standby_pj_per_cycle,
                           base.io_pj_per_bit, base.bits_per_access, mac_pj)


def load_pim(pim) -> PimSpec:
    """Load a PIM config from a preset name (``archsim/presets/pim``), a YAML path or data."""
    if isinstance(pim, PimSpec):
        return pim
    if isinstance(pim, Located):
        loc = pim
    else:
        s = os.fspath(pim)
        if s.endswith((".yaml", ".yml")) or "/" in s or os.sep in s:
            loc = load_file(s)
        else:
            try:
                loc = load_preset("pim", s)
            except KeyError:
                raise ConfigError(f"unknown PIM config {s!r}; available: "
                                  + ", ".join(list_presets("pim"))) from None
    cfg = from_located(PimConfig, loc)
    d = cfg.dram
    if d.endswith((".yaml", ".yml")) and not os.path.isabs(d):
        if not loc.file or loc.file.startswith("<"):
            raise ConfigError(f"cannot resolve relative DRAM path {d!r} from a preset", key="dram")
        d = os.path.join(os.path.dirname(loc.file), d)
    try:
        dram = load_spec(d)
    except ConfigError as exc:
        file, line = loc.where(("dram",))
        raise ConfigError(f"DRAM spec {cfg.dram!r}: {exc}", file=file, line=line,
                          key="dram") from None
    if dram.org.ranks != 1:
        file, line = loc.where(("dram",))
        raise ConfigError("PIM needs a DRAM spec with ranks: 1", file=file, line=line, key="dram")
    spec = PimSpec(cfg, dram)
    if spec.banks_per_rank % spec.banks_per_unit:
        raise ConfigError("banks per channel must be a multiple of banks per unit",
                          file=loc.file, key="mac.unit_level")
    return spec


def list_pims() -> list:
    return list_presets("pim")


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


def gemv_layout(pim: PimSpec, rows: int, cols: int, dtype: str, channels: int):
    """Segment length, per-segment MAC/WRGB counts and rows per channel for :func:`gemv_stream`."""
    db = DTYPE_BYTES[dtype]
    ab = pim.org.access_bytes
    epa = ab // db  # elements per access
    row_elems = pim.banks_per_unit * int(pim.org.row_size_bytes) // db
    gb_elems = int(pim.config.global_buffer_bytes) // db
    seg = max(epa, min(row_elems, gb_elems) // epa * epa)
    nseg = -(-cols // seg)
    lens = [min(seg, cols - s * seg) for s in range(nseg)]
    macs = [-(-ln // epa) for ln in lens]
    wrgb = [-(-ln * db // ab) for ln in lens]
    rdmac = -(-pim.units_per_channel * pim.config.mac.result_bytes // ab)
    per_ch = [rows // channels + (1 if c < rows % channels else 0) for c in range(channels)]
    return seg, macs, wrgb, rdmac, per_ch


def gemv_stream(pim: PimSpec, rows_in_channel: int, macs, wrgb, rdmac: int):
    """The command stream of one channel: (cmd, rank, bg, bank, row) int64 arrays."""
    U = pim.units_per_channel
    groups = -(-rows_in_channel // U)
    nseg = len(macs)
    parts_cmd, parts_row = [], []
    for s in range(nseg):
        parts_cmd.append(np.full(wrgb[s], CMD["WRGB"], np.int64))
        parts_row.append(np.full(wrgb[s], -1, np.int64))
        if groups == 0:
            continue
        block = np.concatenate([[CMD["ACTAB"]], np.full(macs[s], CMD["MACAB"]),
                                np.full(rdmac, CMD["RDMAC"]), [CMD["PREA"]]]).astype(np.int64)
        parts_cmd.append(np.tile(block, groups))
        parts_row.append(np.repeat(np.arange(groups, dtype=np.int64) * nseg + s, len(block)))
    cmd = np.concatenate(parts_cmd) if parts_cmd else np.zeros(0, np.int64)
    row = np.concatenate(parts_row) if parts_row else np.zeros(0, np.int64)
    z = np.zeros(len(cmd), np.int64)
    return cmd, z, z.copy(), z.copy(), row


def run_stream(pim: PimSpec, dtype: str, cmd, rank, bg, bank, row, *, log=False,
               engine="numba"):
    """Schedule one channel's stream; returns (end cycle, counts array, log rows or None)."""
    _t, _c, tb = pim.constraints_for(dtype)
    kern = inorder_kernel_nb if engine == "numba" else inorder_kernel_py
    cap = (len(cmd) + len(cmd) // 4 + 64) if log else 0
    while True:
        prm = np.zeros(5, np.int64)
        prm[I_NBG] = pim.org.bank_groups
        prm[I_NBA] = pim.org.banks_per_group
        prm[I_REFON] = 1 if pim.config.refresh else 0
        prm[I_REFI] = pim.dram.timings["nREFI"]
        prm[I_LOGCAP] = cap
        logarr = np.zeros((max(cap, 1), 8), np.int64)
        counts = np.zeros(NCMD, np.int64)
        stats = np.zeros(2, np.int64)
        kern(cmd, rank, bg, bank, row, prm, tb.ptr, tb.level, tb.nxt, tb.lat, tb.win_level,
             tb.win_prev, tb.win_next, tb.win_lat, tb.win_n, logarr, counts, stats)
        if not log or stats[1] <= cap:
            return int(stats[0]), counts, (logarr[: stats[1]] if log else None)
        cap = int(stats[1])


_MEMO: dict = {}


def clear_memo() -> None:
    """Forget memoized GEMV results."""
    _MEMO.clear()


def simulate_gemv(pim, rows: int, cols: int, dtype: Optional[str] = None, *,
                  channels: Optional[int] = None, memo: bool = True,
                  engine: str = "numba") -> GemvResult:
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

    Returns
    -------
    GemvResult
    """
    pim = load_pim(pim)
    dtype = dtype or pim.config.mac.dtype
    if dtype not in DTYPE_BYTES:
        raise ConfigError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPE_BYTES)}")
    nch = pim.n_channels if channels is None else int(channels)
    if not 1 <= nch <= pim.n_channels:
        raise ConfigError(f"channels must be 1..{pim.n_channels}, got {channels}")
    if rows < 1 or cols < 1:
        raise ConfigError(f"matrix shape must be positive, got {rows} x {cols}")
    key = (pim.key, int(rows), int(cols), dtype, nch)
    if memo:
        hit = _MEMO.get(key)
        if hit is not None:
            return hit
    _seg, macs, wrgb, rdmac, per_ch = gemv_layout(pim, rows, cols, dtype, nch)
    counts = np.zeros(NCMD, np.int64)
    end = 0
    for rc in sorted(set(per_ch)):
        mult = per_ch.count(rc)
        stream = gemv_stream(pim, rc, macs, wrgb, rdmac)
        cyc, cnt, _ = run_stream(pim, dtype, *stream, engine=engine)
        counts += cnt * mult
        end = max(end, cyc)
    cmd_counts = {name: int(counts[i]) for i, name in enumerate(COMMANDS) if counts[i]}
    table = pim.energy_table(dtype)
    cmd_pj = {k: n * table.per_command_pj.get(k, 0.0) for k, n in cmd_counts.items()}
    io_bits = (cmd_counts.get("WRGB", 0) + cmd_counts.get("RDMAC", 0)) * table.bits_per_access
    bg = end * nch * table.act_standby_pj_per_cycle
    energy = EnergyReport(counts=cmd_counts, table=table, command_pj=cmd_pj,
                          background_pj=float(bg), io_pj=float(io_bits * table.io_pj_per_bit),
                          extra_pj={})
    unit_share = nch * pim.units_per_channel * pim.config.mac.lanes * pim.config.mac.clock_hz
    res = GemvResult(rows=int(rows), cols=int(cols), dtype=dtype, channels=nch, cycles=int(end),
                     time_s=end * pim.tck_s, commands=cmd_counts, energy=energy,
                     macs=int(rows) * int(cols), peak_macs_per_s=unit_share)
    if memo:
        _MEMO[key] = res
    return res


def gemv_command_log(pim, rows: int, cols: int, dtype: Optional[str] = None, *,
                     channels: Optional[int] = None, engine: str = "numba"):
    """Issued-command log of a GEMV (all channels) for :func:`archsim.dram.checker.check_log`."""
    from .controller import CommandLog
    pim = load_pim(pim)
    dtype = dtype or pim.config.mac.dtype
    nch = pim.n_channels if channels is None else int(channels)
    _seg, macs, wrgb, rdmac, per_ch = gemv_layout(pim, rows, cols, dtype, nch)
    parts = []
    for c, rc in enumerate(per_ch):
        _cyc, _cnt, lg = run_stream(pim, dtype, *gemv_stream(pim, rc, macs, wrgb, rdmac),
                                    log=True, engine=engine)
        parts.append(np.column_stack([lg, np.full(len(lg), c, np.int64)]))
    a = np.concatenate(parts)
    return CommandLog(cycle=a[:, 0], command=a[:, 1], channel=a[:, 8], rank=a[:, 2],
                      bank_group=a[:, 3], bank=a[:, 4], row=a[:, 5], column=a[:, 6],
                      request=a[:, 7])
