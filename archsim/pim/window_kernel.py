"""Two-lane scheduler for PIM command streams with barriers (AttAcc's PIM controller), numba twin.

AttAcc's host (scale-snu/attacc_simulator at commit c600051, ``pim_ramulator_src/pim_scheduler.cpp``
and ``hbm3_pim_controller.cpp``) issues a trace cut into windows by ``PIM_BARRIER``: within a
window the oldest *ready* request goes first, so the on-die moves (WRGB, MVSB, MVGB, SFM) fill the
cycles between MACABs, whose data path they do not share; a command after a barrier waits until
every command before it has issued, except a row command (ACTAB, PREA), which may open the next
window's row while the previous window's moves finish. All-bank refresh is due every nREFI: the
open row is closed (PREA), refreshed (REFab) and reopened (ACTAB) if a MACAB needs it next.

This kernel schedules such a stream in two lanes: lane 0 the MACABs with their ACTAB / PREA,
in order; lane 1 the moves, the earliest-ready pending move of the open window first (the oldest
on a tie, as its scheduler's first-come-first-served fallback); ``win`` is each command's window
(barriers passed). At each step it computes the earliest legal cycle of lane 0's next command
and of every pending move of the open window (:func:`archsim.dram.timing.earliest`, the latest
over every rank and bank group of a stream-wide command, as :mod:`archsim.pim.kernel`) and
issues the earliest (lane 0 on a tie: it is older), one command per cycle (one per bus with
``I_DUAL``).

Row-hit preference (``I_HITBANK``, AttAcc's ``PIM::compare``): the scheduler passes over a ready
request for a bank that a pending row-hit request addresses while an older request is not yet
ready. For AttAcc's stream this holds back a move addressed to the bank of the MACABs (rank,
bank group and bank ``I_HITBANK``) while a MACAB of its window, or an earlier one, is pending
on the open row: such a move waits for a row switch or the end of the MACABs. ``-1`` turns the
rule off.

Request buffer (``I_BUFFER``): the controller sees only the oldest ``I_BUFFER`` requests of its
channel (Ramulator 2 ``ReqBuffer``: ``max_size = 32``, and ``enqueue`` accepts while the size is
``<= max_size``, so 33), barriers included; a barrier leaves when it is the oldest. ``pos`` is
each command's request position in the channel's trace (an ACTAB or PREA shares the position of
the MACAB it opens the row for), ``isbar`` marks the positions of barriers. ``0`` turns the
limit off.

Two buses (``I_DUAL``): HBM has separate row and column command buses (JESD235/JESD238), and
AttAcc's controller issues, after the request it picks, a second one of the other kind in the
same cycle (``hbm3_pim_controller.cpp`` step 5: ``compare_command_type``, row = ACT/PRE/PREA/
REF/ACTAB, column = MACAB and the moves). With ``I_DUAL`` a row command (ACTAB, PREA, REFab)
and a column command (MACAB, moves) may share a cycle; two of one bus never do.

Refresh wait (``I_REFWAIT``): AttAcc's refresh manager puts the REFab in the priority buffer;
while its prerequisite PREA is not yet legal, the controller picks nothing else as its first
request, but the second-request path still takes a column command, since PREA is a row command.
So MACABs (one every nCCD_AB < nRTPL) and moves go on, the PREA becomes legal only when the
MACABs pause (a row switch, or a barrier), and a refresh falls between rows instead of closing
and reopening one; the stream's own row commands wait for it. With ``I_REFWAIT`` a due refresh
waits for its PREA while earlier-ready column commands issue. One difference is kept on
purpose: AttAcc's REFab goes one cycle after the PREA, because HBM3-PIM.cpp scopes REFab to the
channel and Ramulator 2's ``check_ready`` stops at a command's scope, so the pseudo-channel
PREA -> REFab tRP rule is never checked there; archsim keeps tRP (JESD238), 18 cycles more per
refresh at 5.2 Gb/s.

Not modelled: AttAcc's front end feeds all channels from one in-order trace (a full buffer of
one channel stops the others' requests too); AttAcc refreshes each pseudo-channel with its own
REFab (two per refresh), archsim with one REFab over the stream.
"""
from __future__ import annotations

import numpy as np

from ..dram.timing import COMPILED, earliest, jit_twins, log_command, new_state, record
from .kernel import (I_ACTAB, I_LOGCAP, I_NBA, I_NBG, I_NR, I_REFAB, I_REFI, I_REFON, I_WIDE,
                     NPARAM)

I_PREA = NPARAM          # extra parameters of this kernel
I_MACAB = NPARAM + 1
I_HITBANK = NPARAM + 2   # flat bank (r x NBG + g) x NBA + b the MACABs address, or -1
I_BUFFER = NPARAM + 3    # requests the controller sees (0: all)
I_DUAL = NPARAM + 4      # 1: a row and a column command may issue in the same cycle
I_REFWAIT = NPARAM + 5   # 1: column commands go on while a due refresh waits for its PREA
NPARAM_WINDOW = NPARAM + 6
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


def retire(q, retired, isbar, state, BUF):
    """Request position ``q`` leaves the buffer; barriers at its head leave with it, and the
    buffer takes the next requests. ``state`` = (head, last visible position, visible
    unretired)."""
    P = retired.shape[0]
    retired[q] = 1
    state[2] -= 1
    while True:
        while state[0] < P and retired[state[0]] != 0:
            state[0] += 1
        if state[0] < P and isbar[state[0]] != 0:
            retired[state[0]] = 1
            state[2] -= 1
        else:
            break
    while (BUF == 0 or state[2] < BUF) and state[1] + 1 < P:
        state[1] += 1
        if retired[state[1]] == 0:
            state[2] += 1


def window_kernel(cmd, rank, bg, bank, row, lane, win, pos, isbar, prm, c_ptr, c_level, c_next,
                  c_lat, w_level, w_prev, w_next, w_lat, w_n, log, counts, stats):
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
    hitbank = prm[I_HITBANK]
    BUF = prm[I_BUFFER]
    dual = prm[I_DUAL]
    refwait = prm[I_REFWAIT]
    P = isbar.shape[0]
    retired = np.zeros(P, np.int64)
    state = np.zeros(3, np.int64)     # head, last visible position, visible unretired
    state[1] = -1
    while (BUF == 0 or state[2] < BUF) and state[1] + 1 < P:
        state[1] += 1
        state[2] += 1
    while state[0] < P and isbar[state[0]] != 0:     # leading barriers
        retire(state[0], retired, isbar, state, BUF)
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
    done1 = np.zeros(n1, np.int64)
    p0 = 0
    p1 = 0
    k1 = 0
    now = -1
    nlog = 0
    ref_due = nrefi
    open_row = -1
    last_row = -1           # cycle of the last row command (ACTAB, PREA, REFab) and column
    last_col = -1           # command (MACAB, moves): with dual issue each bus takes one a cycle
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
            if pos[i] <= state[1] and not (c == macab and p1 < n1 and win[idx1[p1]] < win[i]):
                lb = now + 1
                if dual != 0:
                    lb = (last_col if c == macab else last_row) + 1
                    if lb < now:
                        lb = now
                t0 = issue_at(c, bg[i], bank[i], lb, NR, NBG, NBA, rank[i], wide, nx, nc,
                              hist, hptr, wmax, n_nodes, w_level, w_next, w_lat)
        if p1 < n1:
            wj = win[idx1[p1]]
            if not (p0 < n0 and win[idx0[p0]] < wj):
                # a MACAB of this window or an earlier one pending on the open row
                held = (hitbank >= 0 and p0 < n0 and cmd[idx0[p0]] == macab
                        and win[idx0[p0]] <= wj and row[idx0[p0]] == open_row)
                lb1 = now + 1
                if dual != 0:
                    lb1 = last_col + 1 if last_col + 1 > now else now
                k = p1
                while k < n1 and win[idx1[k]] == wj and pos[idx1[k]] <= state[1]:
                    if done1[k] == 0:
                        j = idx1[k]
                        if not (held and (rank[j] * NBG + bg[j]) * NBA + bank[j] == hitbank):
                            v = issue_at(cmd[j], bg[j], bank[j], lb1, NR, NBG, NBA, rank[j],
                                         wide, nx, nc, hist, hptr, wmax, n_nodes, w_level,
                                         w_next, w_lat)
                            if v < t1:
                                t1 = v
                                k1 = k
                    k += 1
        t = t0 if t0 <= t1 else t1
        go = refon != 0 and t >= ref_due
        tp = BIG
        if go and open_row >= 0:
            lbr = now + 1 if now + 1 > ref_due else ref_due
            if dual != 0:
                lbr = last_row + 1 if last_row + 1 > now else now
                if lbr < ref_due:
                    lbr = ref_due
            tp = issue_at(prea, 0, 0, lbr, NR, NBG, NBA, 0, wide, nx, nc, hist, hptr, wmax,
                          n_nodes, w_level, w_next, w_lat)
            if refwait != 0:
                # the refresh's PREA waits for its timing; column commands (MACABs, moves)
                # ready before it go on, row commands of the stream wait for the refresh
                if not (p0 < n0 and cmd[idx0[p0]] == macab):
                    t0 = BIG
                tc = t0 if t0 <= t1 else t1
                if tc < tp:
                    go = False
                    t = tc
        if go:
            # refresh: close the open row, refresh, reopen it if a MACAB needs it next
            if open_row >= 0:
                issue(prea, tp, 0, 0, NR, NBG, NBA, 0, wide, nx, nc, hist, hptr, wmax, n_nodes,
                      c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_lat, w_n)
                counts[prea] += 1
                nlog = log_command(log, prm[I_LOGCAP], nlog, tp, prea, 0, 0, 0, -1, -1, -1)
                now = tp
                last_row = tp
            tr = issue_at(refab, 0, 0, now + 1 if now + 1 > ref_due else ref_due, NR, NBG, NBA,
                          0, wide, nx, nc, hist, hptr, wmax, n_nodes, w_level, w_next, w_lat)
            issue(refab, tr, 0, 0, NR, NBG, NBA, 0, wide, nx, nc, hist, hptr, wmax, n_nodes,
                  c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_lat, w_n)
            counts[refab] += 1
            nlog = log_command(log, prm[I_LOGCAP], nlog, tr, refab, 0, 0, 0, -1, -1, -1)
            now = tr
            last_row = tr
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
                last_row = ta
            else:
                open_row = -1
            continue
        if t0 <= t1:
            i = idx0[p0]
            p0 += 1
        else:
            i = idx1[k1]
            done1[k1] = 1
            while p1 < n1 and done1[p1] != 0:
                p1 += 1
        c = cmd[i]
        issue(c, t, bg[i], bank[i], NR, NBG, NBA, rank[i], wide, nx, nc, hist, hptr, wmax,
              n_nodes, c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_lat, w_n)
        counts[c] += 1
        if c == macab or lane[i] != 0:
            retire(pos[i], retired, isbar, state, BUF)
        nlog = log_command(log, prm[I_LOGCAP], nlog, t, c, rank[i], bg[i], bank[i], row[i], -1,
                           i)
        now = t
        if lane[i] == 0 and c != macab:
            last_row = t
        else:
            last_col = t
        if c == actab:
            open_row = row[i]
        elif c == prea:
            open_row = -1
    stats[0] = now + 1
    stats[1] = nlog
    return nlog


window_kernel_py = window_kernel
_HELPERS = jit_twins(globals(), ("issue_at", "issue", "retire"), COMPILED)
window_kernel_nb = jit_twins(globals(), ("window_kernel",), {**COMPILED, **_HELPERS},
                             inline=False)["window_kernel"]
