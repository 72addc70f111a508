"""In-order command scheduler for static command streams (PIM kernels), numba and Python twin.

A PIM kernel's command stream is fixed by the data layout (AiM/HBM-PIM/AttAcc hosts issue it in
order), so there is nothing to reorder: each command is issued at the earliest cycle that honours
every timing constraint and the one-command-per-cycle bus, after the previous command. All-bank
refresh (REFab, tRFC) is inserted every nREFI, at the next row boundary (before an ACTAB, when all
banks are closed). The constraint tables are the same int64 arrays as the DRAM controller's.
"""
from __future__ import annotations

import numpy as np
from numba import njit

I_NBG, I_NBA, I_REFON, I_REFI, I_LOGCAP = range(5)
_REFAB = 7
_ACTAB = 9
_NC = 13


def inorder_kernel(cmd, rank, bg, bank, row, prm, c_ptr, c_level, c_next, c_lat,
                   w_level, w_prev, w_next, w_lat, w_n, log, counts, stats):
    """Schedule ``cmd[i]`` (to ``rank/bg/bank``) in order; fills ``log`` and ``counts``.

    ``stats[0]`` = cycle after the last command, ``stats[1]`` = commands issued (incl. refresh).
    """
    NBG = prm[I_NBG]
    NBA = prm[I_NBA]
    refon = prm[I_REFON]
    nrefi = prm[I_REFI]
    logcap = prm[I_LOGCAP]
    NR = 1
    for i in range(rank.shape[0]):
        if rank[i] + 1 > NR:
            NR = rank[i] + 1
    nbt = NR * NBG * NBA
    nwin = w_lat.shape[0]
    wmax = 1
    for w in range(nwin):
        if w_n[w] > wmax:
            wmax = w_n[w]
    nodes = nbt + 1
    nx_ch = np.zeros(_NC, np.int64)
    nx_rk = np.zeros(NR * _NC, np.int64)
    nx_bg = np.zeros(NR * NBG * _NC, np.int64)
    nx_bk = np.zeros(nbt * _NC, np.int64)
    hist = np.full(nwin * nodes * wmax, -(1 << 62), np.int64)
    hptr = np.zeros(nwin * nodes, np.int64)
    ref_due = nrefi
    now = 0
    nlog = 0
    n = cmd.shape[0]
    i = 0
    while i < n:
        c = cmd[i]
        r = rank[i]
        g = bg[i]
        fb = (r * NBG + g) * NBA + bank[i]
        rv = row[i]
        is_ref = False
        if refon != 0 and c == _ACTAB and now >= ref_due:
            c = _REFAB
            is_ref = True
        t = nx_ch[c]
        v = nx_rk[r * _NC + c]
        if v > t:
            t = v
        v = nx_bg[(r * NBG + g) * _NC + c]
        if v > t:
            t = v
        v = nx_bk[fb * _NC + c]
        if v > t:
            t = v
        for w in range(nwin):
            if w_next[w, c] != 0:
                lv = w_level[w]
                node = 0
                if lv == 1:
                    node = r
                elif lv == 2:
                    node = r * NBG + g
                elif lv == 3:
                    node = fb
                hi = w * nodes + node
                v = hist[hi * wmax + hptr[hi]] + w_lat[w]
                if v > t:
                    t = v
        if t < now:
            t = now
        for j in range(c_ptr[c], c_ptr[c + 1]):
            lv = c_level[j]
            f = c_next[j]
            v = t + c_lat[j]
            if lv == 0:
                if v > nx_ch[f]:
                    nx_ch[f] = v
            elif lv == 1:
                idx = r * _NC + f
                if v > nx_rk[idx]:
                    nx_rk[idx] = v
            elif lv == 2:
                idx = (r * NBG + g) * _NC + f
                if v > nx_bg[idx]:
                    nx_bg[idx] = v
            else:
                idx = fb * _NC + f
                if v > nx_bk[idx]:
                    nx_bk[idx] = v
        for w in range(nwin):
            if w_prev[w, c] != 0:
                lv = w_level[w]
                node = 0
                if lv == 1:
                    node = r
                elif lv == 2:
                    node = r * NBG + g
                elif lv == 3:
                    node = fb
                hi = w * nodes + node
                hist[hi * wmax + hptr[hi]] = t
                hptr[hi] = (hptr[hi] + 1) % w_n[w]
        counts[c] += 1
        if nlog < logcap:
            log[nlog, 0] = t
            log[nlog, 1] = c
            log[nlog, 2] = r
            log[nlog, 3] = g
            log[nlog, 4] = bank[i]
            log[nlog, 5] = -1 if is_ref else rv
            log[nlog, 6] = -1
            log[nlog, 7] = -1 if is_ref else i
        nlog += 1
        now = t + 1
        if is_ref:
            ref_due += nrefi
        else:
            i += 1
    stats[0] = now
    stats[1] = nlog
    return nlog


inorder_kernel_py = inorder_kernel
inorder_kernel_nb = njit(cache=True, nogil=True)(inorder_kernel)
