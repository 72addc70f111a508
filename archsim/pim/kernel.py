"""In-order command scheduler for static command streams (PIM kernels), numba and Python twin.

A PIM kernel's command stream is fixed by the data layout (AiM/HBM-PIM/AttAcc hosts issue it in
order), so there is nothing to reorder: each command is issued at the earliest cycle that honours
every timing constraint and the one-command-per-cycle bus, after the previous command. All-bank
refresh (REFab, tRFC) is inserted every nREFI, at the next row boundary (before an ACTAB, when all
banks are closed). The timing state and its update are the DRAM controller's
(:mod:`archsim.dram.timing`), on the constraint tables of the PIM command set; the ids of ACTAB
and REFab come in the parameter vector.

Ranks: the stream's rank count comes in the parameter vector (``I_NR``), and a bit mask
(``I_WIDE``, bit ``c`` for command id ``c``) names the commands scoped to the whole stream
(:func:`archsim.pim.commands.pim_command_set` with ``wide``). Such a command is issued at the
latest :func:`~archsim.dram.timing.earliest` over every rank and bank group it covers and
:func:`~archsim.dram.timing.record`-ed on each (an all-bank command over 2 pseudo-channels x 2
ranks of an HBM3 legacy channel, as AttAcc's); it is logged once, at rank 0, with the
command's channel scope telling the checker it covers every rank. Bank-level rules are looked
up at bank 0 of each group only, and a rolling window would take one entry per node covered:
no command of a PIM stream is the preceding command of a bank-level or window rule.
"""
from __future__ import annotations

from ..dram.timing import COMPILED, earliest, jit_twins, log_command, new_state, record

I_NBG, I_NBA, I_REFON, I_REFI, I_LOGCAP, I_ACTAB, I_REFAB, I_NR, I_WIDE = range(9)
NPARAM = 9


def inorder_kernel(cmd, rank, bg, bank, row, prm, c_ptr, c_level, c_next, c_lat,
                   w_level, w_prev, w_next, w_lat, w_n, log, counts, stats):
    """Schedule ``cmd[i]`` (to ``rank/bg/bank``) in order; fills ``log`` and ``counts``.

    ``stats[0]`` = cycle after the last command, ``stats[1]`` = commands issued (incl. refresh).
    """
    NR = prm[I_NR]
    if NR < 1:
        NR = 1
    for i in range(rank.shape[0]):
        if rank[i] + 1 > NR:
            NR = rank[i] + 1
    nc = c_ptr.shape[0] - 1
    nx, hist, hptr, _nc, wmax, n_nodes, _NR, _NBG = new_state(NR, prm[I_NBG], prm[I_NBA], nc,
                                                              w_lat, w_n)
    return inorder_loop(cmd, rank, bg, bank, row, prm, c_ptr, c_level, c_next, c_lat, w_level,
                        w_prev, w_next, w_lat, w_n, NR, nx, hist, hptr, wmax, n_nodes, log,
                        counts, stats)


def inorder_loop(cmd, rank, bg, bank, row, prm, c_ptr, c_level, c_next, c_lat, w_level, w_prev,
                 w_next, w_lat, w_n, NR, nx, hist, hptr, wmax, n_nodes, log, counts, stats):
    """The loop of :func:`inorder_kernel` on the timing state of
    :func:`archsim.dram.timing.new_state` (compiled without reference counting, like the DRAM
    controller's loop)."""
    NBG = prm[I_NBG]
    NBA = prm[I_NBA]
    refon = prm[I_REFON]
    nrefi = prm[I_REFI]
    actab = prm[I_ACTAB]
    refab = prm[I_REFAB]
    wide = prm[I_WIDE]
    nc = c_ptr.shape[0] - 1
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
        is_ref = refon != 0 and c == actab and now >= ref_due
        if is_ref:
            c = refab
        if (wide >> c) & 1:
            t = now
            for rr in range(NR):
                for gg in range(NBG):
                    v = earliest(c, rr, gg, (rr * NBG + gg) * NBA, now, nx, nc, NR, NBG, hist,
                                 hptr, wmax, n_nodes, w_level, w_next, w_lat)
                    if v > t:
                        t = v
            for rr in range(NR):
                for gg in range(NBG):
                    record(c, t, rr, gg, (rr * NBG + gg) * NBA, nx, nc, NR, NBG, hist, hptr, wmax,
                           n_nodes, c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_lat, w_n)
        else:
            t = earliest(c, r, g, fb, now, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, w_level,
                         w_next, w_lat)
            record(c, t, r, g, fb, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, c_ptr, c_level,
                   c_next, c_lat, w_level, w_prev, w_lat, w_n)
        counts[c] += 1
        nlog = log_command(log, prm[I_LOGCAP], nlog, t, c, r, g, bank[i],
                           -1 if is_ref else row[i], -1, -1 if is_ref else i)
        now = t + 1
        if is_ref:
            ref_due += nrefi
        else:
            i += 1
    stats[0] = now
    stats[1] = nlog
    return nlog


inorder_kernel_py = inorder_kernel
_LOOP = jit_twins(globals(), ("inorder_loop",), COMPILED, inline=False, nrt=False)
inorder_kernel_nb = jit_twins(globals(), ("inorder_kernel",), {**COMPILED, **_LOOP},
                              inline=False)["inorder_kernel"]
