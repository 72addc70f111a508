"""Run a request stream through per-channel FR-FCFS controllers (see :mod:`.kernel`).

:func:`simulate` decodes addresses and splits the stream by channel in one compiled pass
(:mod:`.split`; each (pseudo-)channel has its own controller and queues), runs the numba kernel
(or the Python twin) per channel and gathers cycles, latencies, command counts, energy and, on
request, the issued-command log for the timing checker.

Latency is measured from the cycle a request enters its controller queue (its arrival cycle, or
later if the queue was full) to the first data beat: ``issue(RD) + nCL`` for reads and
``issue(WR) + nCWL`` for writes. An unloaded read therefore takes ``nCL`` on a row hit,
``nRCD + nCL`` on a closed bank and ``nRP + nRCD + nCL`` on a row conflict (once tRAS of the
open row has passed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import ConfigError
from .energy import EnergyReport, dram_energy
from .kernel import (CONTROLLER_COMMANDS, LOG_COLS, NPARAM, NSTAT, P_CLOSED, P_HITCAP,
                     P_LOGCAP, P_NBA, P_NBG, P_NR, P_QSIZE, P_REFI, P_REFIPB, P_REFMODE,
                     P_REFWAIT, P_SAMECYCLE, P_WHI, P_WLO, S_NLOG, S_OPEN_CYCLES, S_STATUS,
                     controller_kernel_nb, controller_kernel_py)
from .split import split_requests


@dataclass(frozen=True)
class CommandLog:
    """Issued commands of all channels, sorted by (channel, cycle); one int64 array per column."""

    cycle: np.ndarray
    command: np.ndarray
    channel: np.ndarray
    rank: np.ndarray
    bank_group: np.ndarray
    bank: np.ndarray
    row: np.ndarray
    column: np.ndarray
    request: np.ndarray

    def __len__(self) -> int:
        return len(self.cycle)

    def as_array(self) -> np.ndarray:
        """All columns stacked, shape (n, 9), for exact comparison."""
        return np.stack([self.cycle, self.command, self.channel, self.rank, self.bank_group,
                         self.bank, self.row, self.column, self.request], axis=1)


@dataclass(frozen=True)
class DramResult:
    """Outcome of :func:`simulate`.

    Attributes
    ----------
    cycles : int
        Cycle after the last data beat of the last request (all channels run from cycle 0).
    time_s : float
    bytes : int
        Bytes transferred (requests x access size).
    issue, enqueue : ndarray
        Per request (input order): RD/WR command cycle and queue-entry cycle.
    read_latency_cycles : ndarray
        Per read request: queue entry to first data beat.
    commands : dict
        Count per command name.
    energy : EnergyReport
    log : CommandLog or None
    """

    spec: object = field(repr=False)
    cycles: int
    time_s: float
    bytes: int
    issue: np.ndarray = field(repr=False)
    enqueue: np.ndarray = field(repr=False)
    read_latency_cycles: np.ndarray = field(repr=False)
    commands: dict
    energy: EnergyReport = field(repr=False)
    log: Optional[CommandLog] = field(default=None, repr=False)

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.bytes / self.time_s if self.time_s > 0 else 0.0

    @property
    def avg_read_latency_ns(self) -> float:
        lat = self.read_latency_cycles
        return float(lat.mean() * self.spec.tck_s * 1e9) if len(lat) else 0.0

    @property
    def p99_read_latency_ns(self) -> float:
        lat = self.read_latency_cycles
        return float(np.percentile(lat, 99) * self.spec.tck_s * 1e9) if len(lat) else 0.0


def shared_buses(spec) -> bool:
    """True when the pseudo-channels of a channel share one controller and command bus."""
    return spec.controller.pseudo_channel_buses == "shared" and spec.org.pseudo_channels > 1


def _params(spec, n_req: int, logcap: int) -> np.ndarray:
    c = spec.controller
    t = spec.timings
    prm = np.zeros(NPARAM, np.int64)
    org = spec.org
    # shared buses: the pseudo-channels take the place of the (single) rank
    prm[P_NR] = org.pseudo_channels if shared_buses(spec) else org.ranks
    prm[P_NBG] = org.bank_groups
    prm[P_NBA] = org.banks_per_group
    prm[P_QSIZE] = c.queue_size
    prm[P_CLOSED] = 1 if c.row_policy == "closed" else 0
    prm[P_HITCAP] = c.row_hit_cap
    prm[P_REFMODE] = {"none": 0, "all_bank": 1, "per_bank": 2}[c.refresh]
    prm[P_REFI] = t["nREFI"]
    prm[P_REFIPB] = t.get("nREFIpb", max(1, t["nREFI"] // spec.banks_per_rank))
    prm[P_WHI] = max(1, int(round(c.write_high_watermark * c.queue_size)))
    prm[P_WLO] = int(round(c.write_low_watermark * c.queue_size))
    prm[P_LOGCAP] = logcap
    interval = prm[P_REFIPB] if c.refresh == "per_bank" else prm[P_REFI]
    prm[P_REFWAIT] = int(round(c.refresh_hit_wait * interval))
    prm[P_SAMECYCLE] = 1 if shared_buses(spec) else 0
    return prm


def run_channel(spec, arrival, is_write, rank, bg, bank, row, col, *, log=False, engine="numba"):
    """Run one channel's controller; returns ``(issue, enqueue, log_rows, counts, stats)``."""
    tb = spec.shared_pc_tables if shared_buses(spec) else spec.tables
    cs = spec.command_set
    ids = np.array([cs.id.get(c, -1) for c in CONTROLLER_COMMANDS], np.int64)
    n = len(arrival)
    kern = controller_kernel_nb if engine == "numba" else controller_kernel_py
    cap = (3 * n + 64 + 4 * (n // 8 + 64)) if log else 0
    while True:
        prm = _params(spec, n, cap)
        issue = np.full(n, -1, np.int64)
        enq = np.full(n, -1, np.int64)
        logarr = np.zeros((max(cap, 1), LOG_COLS), np.int64)
        counts = np.zeros(len(cs), np.int64)
        stats = np.zeros(NSTAT, np.int64)
        kern(arrival, is_write, rank, bg, bank, row, col, prm, ids, *tb.arrays(),
             issue, enq, logarr, counts, stats)
        if stats[S_STATUS] != 0:
            raise RuntimeError("DRAM controller deadlock (internal error)")
        if not log or stats[S_NLOG] <= cap:
            return issue, enq, logarr[: stats[S_NLOG]] if log else None, counts, stats
        cap = int(stats[S_NLOG])


def simulate(spec, addresses, is_write, arrival=None, *, log: bool = False,
             engine: str = "numba", progress=None) -> DramResult:
    """Simulate a memory request stream on ``spec``.

    Parameters
    ----------
    spec : DramSpec
        From :func:`archsim.dram.load_spec` (controller settings included).
    addresses : array of int
        Byte addresses (one access of ``spec.org.access_bytes`` each), within
        ``0 .. spec.capacity_bytes`` (else a :class:`~archsim.errors.ConfigError`: never
        wrapped).
    is_write : array of bool
    arrival : array of int, optional
        Arrival cycle of each request (non-decreasing); default all 0 (as fast as the queues
        accept them).
    log : bool
        Keep the issued-command log (for :func:`archsim.dram.checker.check_log`).
    engine : {"numba", "python"}
        The compiled kernel or its pure-Python twin (same algorithm, same results).
    progress : object with ``update(n)``, optional
        Told of the requests simulated after each channel's controller has run (a reporter of
        :mod:`archsim.progress`); it changes nothing simulated.
    """
    cap = spec.capacity_bytes
    try:
        addresses = np.asarray(addresses, np.int64)
    except OverflowError:
        raise ConfigError(f"an address does not fit 64 bits; {spec.name} holds {cap} B") \
            from None
    n = len(addresses)
    if n and (addresses.min() < 0 or addresses.max() >= cap):
        bad = int(addresses[(addresses < 0) | (addresses >= cap)][0])
        raise ConfigError(f"address {bad:#x} is outside the {spec.name} device (0 .. {cap:#x}):"
                          f" addresses are never wrapped")
    is_write = np.asarray(is_write).astype(np.int64)
    if arrival is None:
        arrival = np.zeros(n, np.int64)
    else:
        arrival = np.asarray(arrival, np.int64)
        if n and (np.any(np.diff(arrival) < 0) or arrival[0] < 0):
            raise ConfigError("request arrival cycles must be >= 0 and non-decreasing")
    if engine not in ("numba", "python"):
        raise ValueError(f"engine must be 'numba' or 'python', not {engine!r}")
    pcs = spec.org.pseudo_channels
    shared = shared_buses(spec)
    # decoded and split per controller (one per channel with shared buses, its
    # pseudo-channels in the place of ranks; else one per pseudo-channel)
    split, order, bounds = split_requests(spec, addresses, is_write, arrival, shared)
    nch = len(bounds) - 1
    issue = np.full(n, -1, np.int64)
    enq = np.full(n, -1, np.int64)
    names = spec.command_set.names
    counts = np.zeros(len(names), np.int64)
    open_cycles = 0
    end = 0
    logs = []
    t = spec.timings
    for c in range(nch):
        idx = order[bounds[c]:bounds[c + 1]]
        if len(idx) == 0:
            continue
        cols = split[:, bounds[c]:bounds[c + 1]]   # rows contiguous
        iss, eq, lg, cnt, st = run_channel(spec, *cols, log=log, engine=engine)
        if progress is not None:
            progress.update(len(idx))
        issue[idx] = iss
        enq[idx] = eq
        counts += cnt
        open_cycles += int(st[S_OPEN_CYCLES])
        if lg is not None:
            lg = lg.copy()
            sel = lg[:, 7] >= 0
            lg[sel, 7] = idx[lg[sel, 7]]
            chan = np.full(len(lg), c, np.int64)
            if shared:   # back to the flat pseudo-channel id, rank 0
                chan = c * pcs + lg[:, 2]
                lg[:, 2] = 0
            logs.append(np.column_stack([lg, chan]))
    if n:
        data_lat = np.where(is_write != 0, t["nCWL"], t["nCL"])
        end = int((issue + data_lat + t["nBL"]).max())
    reads = is_write == 0
    rlat = (issue[reads] + t["nCL"] - enq[reads]) if n else np.zeros(0, np.int64)
    cmd_counts = {name: int(counts[i]) for i, name in enumerate(names) if counts[i]}
    energy = dram_energy(spec, counts, end, open_cycles, n_channels_active=spec.n_channels)
    clog = None
    if log:
        allg = np.concatenate(logs) if logs else np.zeros((0, LOG_COLS + 1), np.int64)
        if shared:   # sorted by (pseudo-channel, cycle), as documented
            allg = allg[np.lexsort((allg[:, 0], allg[:, 8]))]
        clog = CommandLog(cycle=allg[:, 0], command=allg[:, 1], channel=allg[:, 8],
                          rank=allg[:, 2], bank_group=allg[:, 3], bank=allg[:, 4],
                          row=allg[:, 5], column=allg[:, 6], request=allg[:, 7])
    return DramResult(spec=spec, cycles=end, time_s=end * spec.tck_s,
                      bytes=n * spec.org.access_bytes, issue=issue, enqueue=enq,
                      read_latency_cycles=rlat, commands=cmd_counts, energy=energy, log=clog)
