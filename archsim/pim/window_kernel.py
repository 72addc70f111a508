"""Two-lane scheduler for PIM command streams with barriers (AttAcc's PIM controller), numba twin.

AttAcc's host (scale-snu/attacc_simulator at commit c600051, ``pim_ramulator_src/pim_scheduler.cpp``
and ``hbm3_pim_controller.cpp``) issues a trace cut into windows by ``PIM_BARRIER``: within a
window the oldest *ready* request goes first, so the on-die moves (WRGB, MVSB, MVGB, SFM) fill the
cycles between MACABs, whose data path they do not share; a command after a barrier waits until
every command before it has issued, except a row command (ACTAB, PREA), which may open the next
window's row while the previous window's moves finish. All-bank refresh is due every nREFI and
blocks everything until done: the open row is closed (PREA), refreshed (REFab) and reopened
(ACTAB) before the MACABs go on.

This kernel schedules such a stream as two in-order lanes: lane 0 the MACABs with their ACTAB /
PREA, lane 1 the moves; ``win`` is each command's window (barriers passed). At each step it
computes both lanes' next command's earliest legal cycle (:func:`archsim.dram.timing.earliest`,
the latest over every rank of a stream-wide command, as :mod:`archsim.pim.kernel`) and issues the
earlier one (lane 0 on a tie: it is older), one command per cycle. Not modelled: AttAcc's
controller also issues a row and a column command in the same cycle, its request buffer holds 32
requests, and its front end feeds all channels from one in-order trace.
"""
from __future__ import annotations

import numpy as np

from ..dram.timing import COMPILED, earliest, jit_twins, log_command, new_state, record
from .kernel import (I_ACTAB, I_LOGCAP, I_NBA, I_NBG, I_NR, I_REFAB, I_REFI, I_REFON, I_WIDE,
                     NPARAM)

I_PREA = NPARAM          # extra parameters of this kernel
I_MACAB = NPARAM + 1
NPARAM_WINDOW = NPARAM + 2
BIG = 1 << 62


def issue_at(c, g, b, t0, NR, NBG, NBA, r, wide, nx, nc, hist, hptr, wmax, n_nodes, w_level,
             w_next, w_lat):
    """Earliest legal cycle >= t0 of command ``c`` (every rank and bank group of the stream
    when wide, as :mod:`archsim.pim.kernel`)."""
    if (wide >> c) & 1:
        t = t0
        for rr in range(NR):
            for gg in range(NBG):
                v = earliest(c, rr, gg, (rr * NBG + gg) * NBA, t0, nx, nc, NR, NBG, hist, hptr,
                             wmax, n_nodes, w_level, w_next, w_lat)
                if v > t:
                    t = v
        return t
    return earliest(c, r, g, (r * NBG + g) * NBA + b, t0, nx, nc, NR, NBG, hist, hptr, wmax,
                    n_nodes, w_level, w_next, w_lat)


def issue(c, t, g, b, NR, NBG, NBA, r, wide, nx, nc, hist, hptr, wmax, n_nodes, c_ptr, c_level,
          c_next, c_lat, w_level, w_prev, w_lat, w_n):
    """Record command ``c`` issued at ``t`` (on every rank of the stream when wide)."""
    if (wide >> c) & 1:
        for rr in range(NR):
            for gg in range(NBG):
                record(c, t, rr, gg, (rr * NBG + gg) * NBA, nx, nc, NR, NBG, hist, hptr, wmax,
                       n_nodes, c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_lat, w_n)
    else:
        record(c, t, r, g, (r * NBG + g) * NBA + b, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes,
               c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_lat, w_n)


def window_kernel(cmd, rank, bg, bank, row, lane, win, prm, c_ptr, c_level, c_next, c_lat,
                  w_level, w_prev, w_next, w_lat, w_n, log, counts, stats):
    """Schedule the two lanes of ``cmd`` (see the module docstring); fills ``log`` and
    ``counts``. ``stats[0]`` = cycle after the last command, ``stats[1]`` = commands issued
    (refresh included). Lane 0 commands other than MACAB are row commands."""
    NR = prm[I_NR]
    NBG = prm[I_NBG]
    NBA = prm[I_NBA]
    wide = prm[I_WIDE]
    refon = prm[I_REFON]
    nrefi = prm[I_REFI]
    actab = prm[I_ACTAB]
    refab = prm[I_REFAB]
    prea = prm[I_PREA]
    macab = prm[I_MACAB]
    nc = c_ptr.shape[0] - 1
    nx, hist, hptr, _nc, wmax, n_nodes, _NR, _NBG = new_state(NR, NBG, NBA, nc, w_lat, w_n)
    n = cmd.shape[0]
    # the lanes as index lists
    n0 = 0
    for i in range(n):
        if lane[i] == 0:
            n0 += 1
    idx0 = np.empty(n0, np.int64)
    idx1 = np.empty(n - n0, np.int64)
    a = 0
    b1 = 0
    for i in range(n):
        if lane[i] == 0:
            idx0[a] = i
            a += 1
        else:
            idx1[b1] = i
            b1 += 1
    n1 = n - n0
    p0 = 0
    p1 = 0
    now = -1
    nlog = 0
    ref_due = nrefi
    open_row = -1
    while p0 < n0 or p1 < n1:
        t0 = BIG
        t1 = BIG
        while p0 < n0 and cmd[idx0[p0]] == prea and open_row < 0:
            p0 += 1             # nothing open (a refresh closed it): no PREA needed
        if p0 >= n0 and p1 >= n1:
            break
        if p0 < n0:
            i = idx0[p0]
            c = cmd[i]
            # a MACAB waits for the barrier: every move of earlier windows issued
            if not (c == macab and p1 < n1 and win[idx1[p1]] < win[i]):
                t0 = issue_at(c, bg[i], bank[i], now + 1, NR, NBG, NBA, rank[i], wide, nx, nc,
                              hist, hptr, wmax, n_nodes, w_level, w_next, w_lat)
        if p1 < n1:
            j = idx1[p1]
            if not (p0 < n0 and win[idx0[p0]] < win[j]):
                t1 = issue_at(cmd[j], bg[j], bank[j], now + 1, NR, NBG, NBA, rank[j], wide, nx,
                              nc, hist, hptr, wmax, n_nodes, w_level, w_next, w_lat)
        t = t0 if t0 <= t1 else t1
        if refon != 0 and t >= ref_due:
            # refresh: close the open row, refresh, reopen it if a MACAB needs it next
            if open_row >= 0:
                tp = issue_at(prea, 0, 0, now + 1 if now + 1 > ref_due else ref_due, NR, NBG,
                              NBA, 0, wide, nx, nc, hist, hptr, wmax, n_nodes, w_level, w_next,
                              w_lat)
                issue(prea, tp, 0, 0, NR, NBG, NBA, 0, wide, nx, nc, hist, hptr, wmax, n_nodes,
                      c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_lat, w_n)
                counts[prea] += 1
                nlog = log_command(log, prm[I_LOGCAP], nlog, tp, prea, 0, 0, 0, -1, -1, -1)
                now = tp
            tr = issue_at(refab, 0, 0, now + 1 if now + 1 > ref_due else ref_due, NR, NBG, NBA,
                          0, wide, nx, nc, hist, hptr, wmax, n_nodes, w_level, w_next, w_lat)
            issue(refab, tr, 0, 0, NR, NBG, NBA, 0, wide, nx, nc, hist, hptr, wmax, n_nodes,
                  c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_lat, w_n)
            counts[refab] += 1
            nlog = log_command(log, prm[I_LOGCAP], nlog, tr, refab, 0, 0, 0, -1, -1, -1)
            now = tr
            ref_due += nrefi
            if open_row >= 0 and p0 < n0 and cmd[idx0[p0]] == macab:
                ta = issue_at(actab, 0, 0, now + 1, NR, NBG, NBA, 0, wide, nx, nc, hist, hptr,
                              wmax, n_nodes, w_level, w_next, w_lat)
                issue(actab, ta, 0, 0, NR, NBG, NBA, 0, wide, nx, nc, hist, hptr, wmax, n_nodes,
                      c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_lat, w_n)
                counts[actab] += 1
                nlog = log_command(log, prm[I_LOGCAP], nlog, ta, actab, 0, 0, 0, open_row, -1,
                                   -1)
                now = ta
            else:
                open_row = -1
            continue
        if t0 <= t1:
            i = idx0[p0]
            p0 += 1
        else:
            i = idx1[p1]
            p1 += 1
        c = cmd[i]
        issue(c, t, bg[i], bank[i], NR, NBG, NBA, rank[i], wide, nx, nc, hist, hptr, wmax,
              n_nodes, c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_lat, w_n)
        counts[c] += 1
        nlog = log_command(log, prm[I_LOGCAP], nlog, t, c, rank[i], bg[i], bank[i], row[i], -1,
                           i)
        now = t
        if c == actab:
            open_row = row[i]
        elif c == prea:
            open_row = -1
    stats[0] = now + 1
    stats[1] = nlog
    return nlog


window_kernel_py = window_kernel
_HELPERS = jit_twins(globals(), ("issue_at", "issue"), COMPILED)
window_kernel_nb = jit_twins(globals(), ("window_kernel",), {**COMPILED, **_HELPERS},
                             inline=False)["window_kernel"]
