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
(write drain), :func:`refresh_target` and :func:`request_command` (the command each refresh or
request needs now; earliest legal cycles from :func:`archsim.dram.timing.earliest`),
:func:`next_event`, :func:`serve` (a request's RD/WR), :func:`update_banks` and
:func:`update_refresh` (bank and refresh state on issue); the timing tables are updated with
:func:`archsim.dram.timing.record`, shared with the PIM scheduler. Command ids are not written
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

from .timing import COMPILED, INF, LOG_COLS, earliest, jit_twins, log_command, new_state, \
    record

# indices into the parameter vector
P_NR, P_NBG, P_NBA, P_QSIZE, P_CLOSED, P_HITCAP, P_REFMODE, P_REFI, P_WHI, P_WLO, P_LOGCAP, \
    P_REFIPB, P_REFWAIT, P_SAMECYCLE = range(14)
NPARAM = 14
# indices into the stats vector
S_NOW, S_NLOG, S_STATUS, S_OPEN_CYCLES, S_LAST_EVENT = range(5)
NSTAT = 5
# rows of the per-bank state: open row (-1 closed), row hits served since the ACT, queued
# requests, refreshed in the current per-bank refresh round
B_OPEN_ROW, B_HITS, B_QUEUED, B_REFRESHED, B_ACTIVE = range(5)
NBANKSTATE = 5
# rows of the per-rank state: open banks, cycle the first of them opened, next refresh deadline,
# where the per-bank round search starts, the bank being refreshed, banks refreshed this round,
# whether a due refresh is waiting for queued hits to the rows it would close
R_OPEN, R_OPEN_SINCE, R_REF_DUE, R_REF_NEXT, R_REF_BANK, R_REF_DONE, R_REF_HOLD = range(7)
NRANKSTATE = 7
__all__ = ["LOG_COLS", "CONTROLLER_COMMANDS", "controller_kernel_nb", "controller_kernel_py"]

#: the commands the controller issues; ``ids[i]`` is the id of ``CONTROLLER_COMMANDS[i]``
CONTROLLER_COMMANDS = ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb")
I_ACT, I_PRE, I_PREA, I_RD, I_WR, I_RDA, I_WRA, I_REFAB, I_REFPB = (
    CONTROLLER_COMMANDS.index(n) for n in CONTROLLER_COMMANDS)


def admit(now, nxt, arrival, is_write, row, fbank, queue, qn, Q, open_row, pend, qcount,
          enqueue):
    """Move arrived requests (in order) into the read (0) or write (1) queue until the one the
    next request needs is full; returns the index of the next request not yet admitted."""
    N = arrival.shape[0]
    while nxt < N and arrival[nxt] <= now:
        k = nxt
        m = 1 if is_write[k] != 0 else 0
        if qn[m] >= Q:
            break
        queue[m, qn[m]] = k
        qn[m] += 1
        fb = fbank[k]
        if open_row[fb] == row[k]:
            pend[m, fb] += 1
        enqueue[k] = now
        qcount[fb] += 1
        nxt += 1
    return nxt


def next_mode(mode, qn, whi, wlo):
    """Read (0) or write (1) mode: drain writes from ``whi`` queued (or when no read waits)
    down to ``wlo`` (or none)."""
    if mode == 1:
        if qn[1] == 0 or (qn[1] <= wlo and qn[0] > 0):
            return 0
        return 1
    if qn[1] >= whi or (qn[0] == 0 and qn[1] > 0):
        return 1
    return 0


def refresh_target(r, refmode, ids, nbpr, open_cnt, open_row, qcount, ref_ptr, ref_done,
                   ref_tgt):
    """The refresh command due at rank ``r`` and its flat bank: REFab (PREA first if a bank is
    open), or REFpb to a bank not yet refreshed this round, preferring one with no queued
    request (PRE first if it is open); the REFpb bank is kept in ``ref_tgt[r]``."""
    if refmode == 1:
        if open_cnt[r] > 0:
            return ids[I_PREA], r * nbpr
        return ids[I_REFAB], r * nbpr
    fb = -1
    for j in range(nbpr):
        b2 = r * nbpr + (ref_ptr[r] + j) % nbpr
        if ref_done[b2] == 0:
            if fb < 0:
                fb = b2
            if qcount[b2] == 0:
                fb = b2
                break
    ref_tgt[r] = fb
    if open_row[fb] >= 0:
        return ids[I_PRE], fb
    return ids[I_REFPB], fb


def request_command(k, mode, ids, hitcap, row, fbank, open_row, hits_since, pend, pend_act):
    """The command request ``k`` needs now and its class (1 row hit, 2 other): RD/WR on a hit
    (class 2 past ``hitcap`` hits since the ACT), ACT on a closed bank, PRE on a conflict;
    ``(-1, 0)`` while a conflict PRE is held back: always while a request the row was opened
    for waits (in either queue: row-aware drain, as Ramulator 2's active buffer), and while
    the queue served has hits to the open row, up to ``hitcap`` hits since the ACT."""
    fb = fbank[k]
    orow = open_row[fb]
    if orow == row[k]:
        return ids[I_WR] if mode == 1 else ids[I_RD], 1 if hits_since[fb] < hitcap else 2
    if orow < 0:
        return ids[I_ACT], 2
    if pend_act[fb] > 0 or pend[mode, fb] > 0 and hits_since[fb] < hitcap:
        return -1, 0
    return ids[I_PRE], 2


def refresh_waits(r, fb, refmode, nbpr, pend, pend_act, m):
    """Whether the refresh due at rank ``r`` (all-bank, or per-bank to ``fb``) would close a row
    opened for a waiting request, or one that queue ``m`` hits."""
    lo = r * nbpr if refmode == 1 else fb
    hi = (r + 1) * nbpr if refmode == 1 else fb + 1
    for b in range(lo, hi):
        if pend_act[b] > 0 or pend[m, b] > 0:
            return True
    return False


def next_event(now, nxt, arrival, is_write, qn, Q, refmode, ref_due, ref_hold, refwait):
    """The next arrival the queues can take, the next refresh deadline, or the end of a
    refresh's wait for queued hits (``INF`` if none)."""
    N = arrival.shape[0]
    ev = INF
    if nxt < N:
        if qn[1 if is_write[nxt] != 0 else 0] < Q:
            ev = arrival[nxt]
    if refmode != 0 and (qn[0] + qn[1] > 0 or nxt < N):
        for r in range(ref_due.shape[0]):
            due = ref_due[r] + refwait if ref_hold[r] != 0 else ref_due[r]
            if due > now and due < ev:
                ev = due
    return ev


def serve(T, cmd, fb, k, pos, mode, closed_policy, ids, queue, qn, pend, hits_since, qcount,
          issue):
    """Take request ``k`` (at ``pos`` of queue ``mode``) served by its RD/WR at ``T``; returns
    the command, auto-precharging (RDA/WRA) under the closed-row policy when no other queued
    request hits the row."""
    pend[mode, fb] -= 1
    n = qn[mode]
    for j in range(pos, n - 1):
        queue[mode, j] = queue[mode, j + 1]
    qn[mode] = n - 1
    hits_since[fb] += 1
    qcount[fb] -= 1
    issue[k] = T
    if closed_policy != 0 and pend[0, fb] + pend[1, fb] == 0:
        return ids[I_WRA] if cmd == ids[I_WR] else ids[I_RDA]
    return cmd


def update_banks(T, cmd, r, fb, k, ids, nbpr, row, fbank, queue, qn, pend, pend_act, open_row,
                 hits_since, open_cnt, open_start):
    """Bank state after issuing ``cmd`` (ACT, PRE, RDA/WRA, PREA); returns the cycles of rank
    ``r`` with an open bank that ended now."""
    ended = 0
    if cmd == ids[I_ACT]:
        rv = row[k]
        open_row[fb] = rv
        hits_since[fb] = 0
        if open_cnt[r] == 0:
            open_start[r] = T
        open_cnt[r] += 1
        for m in range(2):
            c = 0
            for i in range(qn[m]):
                kk = queue[m, i]
                if row[kk] == rv and fbank[kk] == fb:
                    c += 1
            pend[m, fb] = c
    elif cmd == ids[I_PRE] or cmd == ids[I_RDA] or cmd == ids[I_WRA]:
        open_row[fb] = -1
        pend[0, fb] = 0
        pend[1, fb] = 0
        pend_act[fb] = 0
        open_cnt[r] -= 1
        if open_cnt[r] == 0:
            ended = T - open_start[r]
    elif cmd == ids[I_PREA]:
        for b in range(r * nbpr, (r + 1) * nbpr):
            open_row[b] = -1
            pend[0, b] = 0
            pend[1, b] = 0
            pend_act[b] = 0
        if open_cnt[r] > 0:
            ended = T - open_start[r]
        open_cnt[r] = 0
    return ended


def update_refresh(cmd, r, fb, ids, nbpr, interval, ref_due, ref_ptr, ref_done, ref_ndone):
    """Refresh bookkeeping after issuing ``cmd``: the rank's next deadline and, per bank, the
    banks refreshed in the current round."""
    if cmd == ids[I_REFAB]:
        ref_due[r] += interval
    elif cmd == ids[I_REFPB]:
        ref_due[r] += interval
        ref_ptr[r] = (fb - r * nbpr + 1) % nbpr
        ref_done[fb] = 1
        ref_ndone[r] += 1
        if ref_ndone[r] == nbpr:
            ref_ndone[r] = 0
            for b in range(r * nbpr, (r + 1) * nbpr):
                ref_done[b] = 0


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
    queue = np.zeros((2, prm[P_QSIZE]), np.int64)
    qn = np.zeros(2, np.int64)
    active = np.zeros(arrival.shape[0], np.int64)
    nact = np.zeros(2, np.int64)
    return controller_loop(arrival, is_write, rank, bg, fbank, row, col, prm, ids,
                           c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_next, w_lat, w_n,
                           nx, hist, hptr, wmax, n_nodes, banks, pend, ranks, queue, qn,
                           active, nact, issue, enqueue, log, counts, stats)


def controller_loop(arrival, is_write, rank, bg, fbank, row, col, prm, ids,
                    c_ptr, c_level, c_next, c_lat, w_level, w_prev, w_next, w_lat, w_n,
                    nx, hist, hptr, wmax, n_nodes, banks, pend, ranks, queue, qn,
                    active, nact, issue, enqueue, log, counts, stats):
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
        nxt = admit(now, nxt, arrival, is_write, row, fbank, queue, qn, Q, open_row, pend,
                    qcount, enqueue)
        mode = next_mode(mode, qn, prm[P_WHI], prm[P_WLO])
        best_m = mode
        # ---- the best command: refresh candidates (class 0), then requests (FR-FCFS) --------
        best_t = INF
        best_cls = 9
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
                g = (fb % nbpr) // NBA
                t = earliest(cmd, r, g, fb, now, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes,
                             w_level, w_next, w_lat)
                if t < best_t:
                    best_t, best_cls, best_cmd, best_fb, best_r, best_g = t, 0, cmd, fb, r, g
        # the queue of the mode, then requests of the other queue a row was opened for
        nscan = qn[mode] + (qn[1 - mode] if nact[1 - mode] > 0 else 0)
        for i in range(nscan):
            m = mode if i < qn[mode] else 1 - mode
            pos = i if m == mode else i - qn[mode]
            k = queue[m, pos]
            fb = fbank[k]
            if best_t == now and best_cls == 2 and open_row[fb] != row[k]:
                continue  # a class-2 command is ready now: only a row hit can beat it
            r = rank[k]
            if m != mode and (active[k] == 0 or open_row[fb] != row[k]):
                continue
            refreshing = refmode != 0 and now >= ref_due[r] and (refmode == 1 or
                                                                  fb == ref_tgt[r])
            if refreshing and ref_hold[r] == 0:
                continue  # its bank (rank) is being refreshed
            cmd, cls = request_command(k, m, ids, hitcap, row, fbank, open_row, hits_since,
                                       pend, pend_act)
            if cmd < 0:
                continue
            if refreshing and open_row[fb] != row[k]:
                continue  # the refresh waits for row hits only
            # prune: the channel-level bound already loses to the best so far (ties go to the
            # older request, which was seen first)
            t = max(nx[cmd], now)
            if t > best_t or (t == best_t and cls >= best_cls):
                continue
            g = bg[k]
            t = earliest(cmd, r, g, fb, now, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes,
                         w_level, w_next, w_lat)
            if t < best_t or (t == best_t and cls < best_cls):
                best_t, best_cls, best_cmd, best_fb, best_r, best_g = t, cls, cmd, fb, r, g
                best_pos = pos
                best_k = k
                best_m = m
                if t == now and cls == 1:
                    break  # the oldest ready row hit: nothing later can beat it
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
        open_cycles += update_banks(T, cmd, r, fb, k, ids, nbpr, row, fbank, queue, qn, pend,
                                    pend_act, open_row, hits_since, open_cnt, open_start)
        update_refresh(cmd, r, fb, ids, nbpr, interval, ref_due, ref_ptr, ref_done, ref_ndone)
        counts[cmd] += 1
        nlog = log_command(log, prm[P_LOGCAP], nlog, T, cmd, r, g, fb % NBA,
                           row[k] if k >= 0 else -1, col[k] if k >= 0 else -1, k)
        # one command per cycle, or (separate row and column command buses, whose one-per-
        # cycle rules are in the constraint table) another command in the same cycle
        now = T if prm[P_SAMECYCLE] != 0 else T + 1
    for r in range(NR):
        if open_cnt[r] > 0:
            open_cycles += now - open_start[r]
    stats[S_NOW] = now
    stats[S_NLOG] = nlog
    stats[S_STATUS] = status
    stats[S_OPEN_CYCLES] = open_cycles
    return nlog


#: the parts of the loop, inlined into it by numba (``inline="always"``)
_PARTS = ("admit", "next_mode", "refresh_target", "refresh_waits", "request_command",
          "next_event", "serve", "update_banks", "update_refresh")
controller_kernel_py = controller_kernel
_INLINED = jit_twins(globals(), _PARTS, COMPILED)
# the loop runs without numba's reference counting (nrt=False): every array an inlined part
# binds would otherwise cost an atomic incref/decref pair per call (2-3x slower)
_LOOP = jit_twins(globals(), ("controller_loop",), {**COMPILED, **_INLINED}, inline=False,
                  nrt=False)
controller_kernel_nb = jit_twins(globals(), ("controller_kernel",), {**COMPILED, **_LOOP},
                                 inline=False)["controller_kernel"]
