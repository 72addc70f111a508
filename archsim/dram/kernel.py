"""The per-command controller loop of one channel, on integer arrays (numba and a Python twin).

``controller_kernel`` is written once as a plain Python function over numpy int64 arrays and
compiled with ``numba.njit(cache=True)`` as :data:`controller_kernel_nb`. The interpreter runs the same
source as the Python twin :data:`controller_kernel_py` (debuggable, and a check that the compiled
code keeps Python's integer semantics); tests assert both produce identical command logs.

Algorithm (FR-FCFS, Rixner et al., ISCA 2000, with next-event time advance):

* Requests (sorted by arrival) enter a read or a write queue of ``queue_size`` entries in order;
  a full queue back-pressures later requests.
* Each request needs one command now: RD/WR on a row hit, ACT on a closed bank, PRE on a conflict.
  A PRE is held back while a request the row was opened for still waits, in either queue (such
  requests are served whatever the read/write mode, like Ramulator 2's active buffer), and while
  the served queue has hits to the open row, unless the bank has served ``row_hit_cap`` hits
  since its ACT (starvation guard).
* Every command's earliest legal cycle is the max of next-allowed cycles kept per (node, command)
  at each level (channel, rank, bank group, bank) and of the rolling windows (tFAW); the tables
  are updated on issue from the precomputed constraint arrays.
* The scheduler takes the command with the smallest earliest cycle; ties go to refresh, then row
  hits, then the oldest request (first-ready, then first-come-first-served). Time jumps straight to
  that cycle, or to the next arrival/refresh deadline if that comes first; empty cycles are never
  ticked. This equals a cycle-by-cycle controller that issues, each cycle, the best ready command.
* Writes are drained in bursts between a high and a low watermark (read/write turnaround cost
  comes from the constraint table).
* Refresh: all-bank (PREA if needed, then REFab every nREFI) or per-bank (PRE if needed, then
  REFpb every nREFIpb to a bank not yet refreshed in the current round, preferring one with no
  queued request); requests to a bank (rank) being refreshed wait. A due refresh first waits,
  up to ``refresh_hit_wait`` refresh intervals, while it would close a row opened for a waiting
  request or hit by the served queue (only row hits go to its banks meanwhile).
* Closed-row policy: a RD/WR becomes RDA/WRA when no other queued request hits the row.
* One command per cycle per channel; or, for HBM pseudo-channels sharing separate row and
  column command buses (``P_SAMECYCLE``), one per bus per cycle, from the constraint table.

The loop (:func:`controller_loop`, on state allocated by :func:`controller_kernel`) reads as the
steps above, each a part of its own: :func:`admit` (arrivals into the queues), :func:`next_mode`
(write drain), :func:`refresh_target` (the refresh due, its earliest cycle from
:func:`archsim.dram.timing.earliest`), the FR-FCFS scan of :mod:`archsim.dram.scan` (per-scan
channel/rank bounds, per-bank keys kept up to date, one integer key per queued request),
:func:`next_event`, :func:`serve` (a request's RD/WR), :func:`update_banks` and
:func:`update_refresh` (bank and refresh state on issue), all but the scan in
:mod:`archsim.dram.bookkeeping`; the timing tables are updated with
:func:`archsim.dram.timing.record`, shared with the PIM scheduler. After each issued command
the banks of its bank group (its rank for PREA and REFab) are marked for their keys to be
recomputed, as is the bank of each admitted request. Command ids are not written
into the kernel: the controller's commands are named in :data:`CONTROLLER_COMMANDS` and their ids
(from the spec's command set) come in the ``ids`` array.

Speed: numba inlines the parts into the loop (``inline="always"``), and the loop is compiled
without numba's reference counting (``nrt=False``; the allocating happens before, in
:func:`controller_kernel`). With reference counting, every array argument an inlined or called
part binds costs an atomic increment and decrement per call: split into parts, that made the loop
2-3x slower than one long function.
"""
from __future__ import annotations

import numpy as np

from .bookkeeping import (B_ACTIVE, B_HITS, B_OPEN_ROW, B_QUEUED, B_REFRESHED,  # noqa: F401
                          CONTROLLER_COMMANDS, I_ACT, I_PRE, I_PREA, I_RD, I_REFAB, I_WR,
                          NBANKSTATE, NRANKSTATE, PARTS, QF, Q_FB, Q_K, Q_RANK, Q_ROW, R_OPEN,
                          R_OPEN_SINCE, R_REF_BANK, R_REF_DONE, R_REF_DUE, R_REF_HOLD,
                          R_REF_NEXT, admit, next_event, next_mode, refresh_target,
                          refresh_waits, serve, update_banks, update_refresh)
from .scan import J_RD, NJ, PARTS as SCAN_PARTS, hit_keys, mark_dirty, mark_range, miss_key, \
    request_key, scan_bounds, scan_floor, update_keys
from .timing import COMPILED, INF, LOG_COLS, U, earliest, jit_twins, log_command, new_state, record

# indices into the parameter vector
P_NR, P_NBG, P_NBA, P_QSIZE, P_CLOSED, P_HITCAP, P_REFMODE, P_REFI, P_WHI, P_WLO, P_LOGCAP, \
    P_REFIPB, P_REFWAIT, P_SAMECYCLE = range(14)
NPARAM = 14
# indices into the stats vector
S_NOW, S_NLOG, S_STATUS, S_OPEN_CYCLES, S_LAST_EVENT = range(5)
NSTAT = 5
__all__ = ["LOG_COLS", "CONTROLLER_COMMANDS", "controller_kernel_nb", "controller_kernel_py"]


def controller_kernel(arrival, is_write, rank, bg, bank, row, col, prm, ids,
                      c_ptr, c_level, c_next, c_lat,
                      w_level, w_prev, w_next, w_lat, w_n,
                      issue, enqueue, log, counts, stats):
    """Simulate one channel; see the module docstring. Allocates the state and runs
    :func:`controller_loop`.

    Parameters
    ----------
    arrival, is_write, rank, bg, bank, row, col : int64 arrays, one entry per request
        Channel-local request stream sorted by arrival cycle.
    prm : int64 array
        Parameters (indices ``P_*``).
    ids : int64 array
        Command ids of :data:`CONTROLLER_COMMANDS` in the spec's command set.
    c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_next, w_lat, w_n : int64 arrays
        Constraint tables, see :class:`archsim.dram.constraints.ConstraintTables`.
    issue, enqueue : int64 arrays (out)
        Cycle of each request's RD/WR(A) command and of its entry into the queue.
    log : int64 array (cap, 8) (out)
        Issued commands; ``stats[S_NLOG]`` counts all commands even past the capacity.
    counts : int64 array (commands,) (out)
        Commands issued per command id.
    stats : int64 array (out)
        End cycle, log length, status (0 ok, 1 deadlock), cycles with at least one open bank.
    """
    NR = prm[P_NR]
    NBG = prm[P_NBG]
    NBA = prm[P_NBA]
    nbt = NR * NBG * NBA
    nc = c_ptr.shape[0] - 1
    nx, hist, hptr, _nc, wmax, n_nodes, _NR, _NBG = new_state(NR, NBG, NBA, nc, w_lat, w_n)
    fbank = (rank * NBG + bg) * NBA + bank
    banks = np.zeros((NBANKSTATE, nbt), np.int64)
    banks[B_OPEN_ROW, :] = -1
    pend = np.zeros((2, nbt), np.int64)
    ranks = np.zeros((NRANKSTATE, NR), np.int64)
    queue = np.zeros((2, QF * prm[P_QSIZE]), np.int64)
    qn = np.zeros(2, np.int64)
    active = np.zeros(arrival.shape[0], np.int64)
    nact = np.zeros(2, np.int64)
    bound4 = np.zeros(NR * NJ, np.int64)
    rbank = np.zeros(NR, np.int64)
    cmdj = np.array([ids[I_ACT], ids[I_PRE], ids[I_RD], ids[I_WR]], np.int64)
    hkey = np.zeros(2 * nbt, np.int64)
    mkey = np.zeros(nbt, np.int64)
    mj = np.zeros(nbt, np.int64)
    dirty = np.zeros(nbt, np.int64)
    dlist = np.zeros(nbt + 1, np.int64)
    seen = np.full(1 + 2 * NR, -3, np.int64)
    brank = np.arange(nbt, dtype=np.int64) // (NBG * NBA)
    bgrp = (np.arange(nbt, dtype=np.int64) % (NBG * NBA)) // NBA
    deep = False   # rolling windows per bank group or bank (none in the shipped standards)
    for w in range(w_lat.shape[0]):
        if w_level[w] >= 2:
            deep = True
    # per command: whether issuing it changes a bank-group next-allowed cycle that the other
    # banks' row-hit keys (a bank-group rule towards RD or WR: grpdirty[c, 0]) or miss keys
    # (towards ACT or PRE: grpdirty[c, 1]) read; without either, only its own bank's keys change
    grpdirty = np.zeros((nc, 2), np.int64)
    for c in range(nc):
        for j in range(c_ptr[c], c_ptr[c + 1]):
            if c_level[j] == 2:
                for jj in range(NJ):
                    if c_next[j] == cmdj[jj]:
                        grpdirty[c, 0 if jj >= J_RD else 1] = 1
        if deep:
            grpdirty[c, 0] = 1
            grpdirty[c, 1] = 1
    return controller_loop(arrival, is_write, rank, bg, fbank, row, col, prm, ids,
                           c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_next, w_lat, w_n,
                           nx, hist, hptr, wmax, n_nodes, banks, pend, ranks, queue, qn,
                           active, nact, bound4, rbank, cmdj, hkey, mkey, mj, dirty, dlist,
                           seen, brank, bgrp, deep, grpdirty, issue, enqueue, log, counts,
                           stats)


def controller_loop(arrival, is_write, rank, bg, fbank, row, col, prm, ids,
                    c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_next, w_lat, w_n,
                    nx, hist, hptr, wmax, n_nodes, banks, pend, ranks, queue, qn,
                    active, nact, bound4, rbank, cmdj, hkey, mkey, mj, dirty, dlist, seen,
                    brank, bgrp, deep, grpdirty, issue, enqueue, log, counts, stats):
    """The controller loop of :func:`controller_kernel` on allocated state: ``fbank`` (flat
    bank of each request), the timing state of :func:`archsim.dram.timing.new_state`, ``banks``
    (rows ``B_*``) and ``ranks`` (rows ``R_*``), ``pend`` (queued hits to each bank's open row,
    reads and writes), the read and write ``queue`` (request indices) and their lengths
    ``qn``, ``active`` (per request: a row was opened for it) and ``nact`` (such requests per
    queue).
    """
    NR = prm[P_NR]
    NBG = prm[P_NBG]
    NBA = prm[P_NBA]
    Q = prm[P_QSIZE]
    refmode = prm[P_REFMODE]
    hitcap = prm[P_HITCAP]
    nbpr = NBG * NBA
    N = arrival.shape[0]
    nc = c_ptr.shape[0] - 1
    open_row = banks[B_OPEN_ROW]
    hits_since = banks[B_HITS]
    qcount = banks[B_QUEUED]
    ref_done = banks[B_REFRESHED]
    open_cnt = ranks[R_OPEN]
    open_start = ranks[R_OPEN_SINCE]
    ref_due = ranks[R_REF_DUE]
    ref_ptr = ranks[R_REF_NEXT]
    ref_tgt = ranks[R_REF_BANK]
    ref_ndone = ranks[R_REF_DONE]
    interval = prm[P_REFIPB] if refmode == 2 else prm[P_REFI]
    refwait = prm[P_REFWAIT]
    ref_hold = ranks[R_REF_HOLD]
    pend_act = banks[B_ACTIVE]   # waiting requests each bank's open row was opened for
    for r in range(NR):
        ref_due[r] = interval + (r * interval) // NR
    mode = 0
    now = 0
    nxt = 0
    done = 0
    nlog = 0
    open_cycles = 0
    status = 0
    while done < N:
        nxt0 = nxt
        nxt = admit(now, nxt, arrival, is_write, row, fbank, rank, queue, qn, Q, open_row, pend,
                    qcount, enqueue)
        for kk in range(nxt0, nxt):
            mark_dirty(fbank[kk], dirty, dlist)   # its bank's queued hits changed
        mode = next_mode(mode, qn, prm[P_WHI], prm[P_WLO])
        best_m = mode
        # ---- the best command: refresh candidates (class 0), then requests (FR-FCFS) --------
        best_t = INF
        best_cmd = -1
        best_pos = -1
        best_fb = -1
        best_r = 0
        best_g = 0
        best_k = -1
        if refmode != 0:
            for r in range(NR):
                ref_hold[r] = 0
                if now < ref_due[r]:
                    continue
                cmd, fb = refresh_target(r, refmode, ids, nbpr, open_cnt, open_row, qcount,
                                         ref_ptr, ref_done, ref_tgt)
                if now < ref_due[r] + refwait and refresh_waits(r, fb, refmode, nbpr, pend,
                                                                pend_act, mode):
                    ref_hold[r] = 1   # let the queued hits go first, up to the bound
                    continue
                g = bgrp[fb]
                t = earliest(cmd, r, g, fb, now, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes,
                             w_level, w_next, w_lat)
                if t < best_t:
                    best_t, best_cmd, best_fb, best_r, best_g = t, cmd, fb, r, g
        # requests: the smallest 4 * cycle + class (refresh candidates are class 0), the first
        # (oldest) on ties; the queue of the mode, then requests of the other queue a row was
        # opened for
        scan_bounds(now, mode, refmode, NR, nbpr, cmdj, ref_due, ref_tgt, ref_hold, bound4,
                    rbank, seen, dirty, dlist, nx, nc, NBG, hist, hptr, wmax, n_nodes, w_level,
                    w_next, w_lat)
        update_keys(mode, hitcap, brank, bgrp, qcount, open_row, hits_since, pend, pend_act,
                    rbank, ref_hold, cmdj, hkey, mkey, mj, dirty, dlist, deep, nx, nc, NR, NBG,
                    hist, hptr, wmax, n_nodes, w_level, w_next, w_lat)
        best_key = 4 * best_t if best_t < INF else INF
        # no request's key is below the floor: the first to reach it is the choice
        floor = scan_floor(mode, nact[1 - mode] > 0, NR, bound4)
        for pos in range(qn[mode] if best_key > floor else 0):
            e = U(QF * pos)
            k = queue[U(mode), e + U(Q_K)]
            key = request_key(k, queue[U(mode), e + U(Q_FB)], queue[U(mode), e + U(Q_ROW)],
                              queue[U(mode), e + U(Q_RANK)], mode, False, open_row, active,
                              hkey, mkey, mj, bound4)
            if key < best_key:
                best_key, best_pos, best_k, best_m = key, pos, k, mode
                if key <= floor:
                    break
        if nact[1 - mode] > 0 and best_key > floor:
            for pos in range(qn[1 - mode]):
                e = U(QF * pos)
                k = queue[U(1 - mode), e + U(Q_K)]
                key = request_key(k, queue[U(1 - mode), e + U(Q_FB)],
                                  queue[U(1 - mode), e + U(Q_ROW)],
                                  queue[U(1 - mode), e + U(Q_RANK)], 1 - mode, True, open_row,
                                  active, hkey, mkey, mj, bound4)
                if key < best_key:
                    best_key, best_pos, best_k, best_m = key, pos, k, 1 - mode
                    if key <= floor:
                        break
        if best_k >= 0:
            best_t = best_key >> 2
            fb = fbank[best_k]
            best_cmd = cmdj[J_RD + best_m if open_row[fb] == row[best_k] else mj[fb]]
            best_fb = fbank[best_k]
            best_r = rank[best_k]
            best_g = bg[best_k]
        # ---- or first the next arrival / refresh deadline -------------------------------------
        ev = next_event(now, nxt, arrival, is_write, qn, Q, refmode, ref_due, ref_hold,
                        refwait)
        if ev <= best_t:
            if ev == INF:
                status = 1
                break
            now = ev
            continue
        # ---- issue -------------------------------------------------------------------------
        T = best_t
        cmd = best_cmd
        fb = best_fb
        r = best_r
        g = best_g
        k = best_k
        if k >= 0 and (cmd == ids[I_RD] or cmd == ids[I_WR]):
            if active[k] != 0:
                active[k] = 0
                nact[best_m] -= 1
                if pend_act[fb] > 0:
                    pend_act[fb] -= 1
            cmd = serve(T, cmd, fb, k, best_pos, best_m, prm[P_CLOSED], ids, queue, qn, pend,
                        hits_since, qcount, issue)
            done += 1
        elif k >= 0 and cmd == ids[I_ACT]:
            if active[k] == 0:   # the row is opened for this request
                active[k] = 1
                nact[best_m] += 1
            pend_act[fb] += 1
        record(cmd, T, r, g, fb, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, c_ptr, c_level,
               c_next, c_lat, w_level, w_prev, w_lat, w_n)
        open_cycles += update_banks(T, cmd, r, fb, k, ids, nbpr, row, is_write, queue, qn,
                                    qcount, pend, pend_act, open_row, hits_since, open_cnt,
                                    open_start)
        update_refresh(cmd, r, fb, ids, nbpr, interval, ref_due, ref_ptr, ref_done, ref_ndone)
        counts[cmd] += 1
        nlog = log_command(log, prm[P_LOGCAP], nlog, T, cmd, r, g, fb - (r * NBG + g) * NBA,
                           row[k] if k >= 0 else -1, col[k] if k >= 0 else -1, k)
        # one command per cycle, or (separate row and column command buses, whose one-per-
        # cycle rules are in the constraint table) another command in the same cycle
        # the keys of the banks whose timing or state this command changed
        if cmd == ids[I_PREA] or cmd == ids[I_REFAB]:
            mark_range(r * nbpr, (r + 1) * nbpr, dirty, dlist)
        elif grpdirty[cmd, 0] != 0 or grpdirty[cmd, 1] != 0:
            # its bank's keys are stale; of the other banks of its group with queued requests,
            # only the row-hit or the miss keys changed (their state did not; a later change
            # of mode or refresh state marks them stale anyway): recomputed now
            mark_dirty(fb, dirty, dlist)
            for b in range((r * NBG + g) * NBA, (r * NBG + g + 1) * NBA):
                if b != fb and dirty[U(b)] == 0 and qcount[U(b)] > 0:
                    if grpdirty[cmd, 0] != 0:
                        hit_keys(b, r, g, hitcap, hits_since, rbank, ref_hold, cmdj, hkey, deep,
                                 nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, w_level, w_next,
                                 w_lat)
                    if grpdirty[cmd, 1] != 0:
                        miss_key(b, r, g, mode, hitcap, open_row, hits_since, pend, pend_act,
                                 rbank, cmdj, mkey, mj, deep, nx, nc, NR, NBG, hist, hptr, wmax,
                                 n_nodes, w_level, w_next, w_lat)
        else:
            mark_dirty(fb, dirty, dlist)
        now = T if prm[P_SAMECYCLE] != 0 else T + 1
    for r in range(NR):
        if open_cnt[r] > 0:
            open_cycles += now - open_start[r]
    stats[S_NOW] = now
    stats[S_NLOG] = nlog
    stats[S_STATUS] = status
    stats[S_OPEN_CYCLES] = open_cycles
    return nlog


controller_kernel_py = controller_kernel
# the loop runs without numba's reference counting (nrt=False): every array an inlined part
# binds would otherwise cost an atomic incref/decref pair per call (2-3x slower)
_LOOP = jit_twins(globals(), ("controller_loop",), {**COMPILED, **PARTS, **SCAN_PARTS},
                  inline=False, nrt=False)
controller_kernel_nb = jit_twins(globals(), ("controller_kernel",), {**COMPILED, **_LOOP},
                                 inline=False)["controller_kernel"]
