"""The per-command controller loop of one channel, on integer arrays (numba and a Python twin).

``controller_kernel`` is written once as a plain Python function over numpy int64 arrays and
compiled with ``numba.njit(cache=True)`` as :data:`controller_kernel_nb`. The interpreter runs the same
source as the Python twin :data:`controller_kernel_py` (debuggable, and a check that the compiled
code keeps Python's integer semantics); tests assert both produce identical command logs.

Algorithm (FR-FCFS, Rixner et al., ISCA 2000, with next-event time advance):

* Requests (sorted by arrival) enter a read or a write queue of ``queue_size`` entries in order;
  a full queue back-pressures later requests.
* Each request needs one command now: RD/WR on a row hit, ACT on a closed bank, PRE on a conflict.
  A PRE is held back while the active queue still has hits to the open row, unless the bank has
  served ``row_hit_cap`` hits since its ACT (starvation guard).
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
  queued request); requests to a bank (rank) being refreshed wait.
* Closed-row policy: a RD/WR becomes RDA/WRA when no other queued request hits the row.
* One command per cycle per channel.

The loop is split into parts: :func:`admit` (arrivals into the queues), :func:`best_refresh` and
:func:`best_request` (candidate selection; earliest legal cycles from
:func:`archsim.dram.timing.earliest`), :func:`next_event`, :func:`serve` and
:func:`update_banks` (bank state and refresh bookkeeping on issue); the timing tables are updated
with :func:`archsim.dram.timing.record`, shared with the PIM scheduler. Command ids are not
written into the kernel: the controller's commands are named in :data:`CONTROLLER_COMMANDS` and
their ids (from the spec's command set) come in the ``ids`` array.
"""
from __future__ import annotations

import numpy as np

from .timing import COMPILED, INF, LOG_COLS, earliest, jit_twins, log_command, new_state, \
    record

# indices into the parameter vector
P_NR, P_NBG, P_NBA, P_QSIZE, P_CLOSED, P_HITCAP, P_REFMODE, P_REFI, P_WHI, P_WLO, P_LOGCAP, \
    P_REFIPB = range(12)
NPARAM = 12
# indices into the stats vector
S_NOW, S_NLOG, S_STATUS, S_OPEN_CYCLES, S_LAST_EVENT = range(5)
NSTAT = 5
__all__ = ["LOG_COLS", "CONTROLLER_COMMANDS", "controller_kernel_nb", "controller_kernel_py"]

#: the commands the controller issues; ``ids[i]`` is the id of ``CONTROLLER_COMMANDS[i]``
CONTROLLER_COMMANDS = ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb")
I_ACT, I_PRE, I_PREA, I_RD, I_WR, I_RDA, I_WRA, I_REFAB, I_REFPB = (
    CONTROLLER_COMMANDS.index(n) for n in CONTROLLER_COMMANDS)


def controller_kernel(arrival, is_write, rank, bg, bank, row, col, prm, ids,
                      c_ptr, c_level, c_next, c_lat,
                      w_level, w_prev, w_next, w_lat, w_n,
                      issue, enqueue, log, counts, stats):
    """Simulate one channel; see the module docstring.

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
    Q = prm[P_QSIZE]
    closed_policy = prm[P_CLOSED]
    hitcap = prm[P_HITCAP]
    refmode = prm[P_REFMODE]
    nrefi = prm[P_REFI]
    whi = prm[P_WHI]
    wlo = prm[P_WLO]
    logcap = prm[P_LOGCAP]
    refipb = prm[P_REFIPB]
    nbpr = NBG * NBA
    nbt = NR * nbpr
    N = arrival.shape[0]
    nc = c_ptr.shape[0] - 1
    nx, hist, hptr, _nc, wmax, n_nodes, _NR, _NBG = new_state(NR, NBG, NBA, nc, w_lat, w_n)
    _ACT = ids[I_ACT]
    _PRE = ids[I_PRE]
    _PREA = ids[I_PREA]
    _RD = ids[I_RD]
    _WR = ids[I_WR]
    _RDA = ids[I_RDA]
    _WRA = ids[I_WRA]
    _REFAB = ids[I_REFAB]
    _REFPB = ids[I_REFPB]
    open_row = np.full(nbt, -1, np.int64)
    hits_since = np.zeros(nbt, np.int64)
    pend_r = np.zeros(nbt, np.int64)
    pend_w = np.zeros(nbt, np.int64)
    open_cnt = np.zeros(NR, np.int64)
    open_start = np.zeros(NR, np.int64)
    ref_due = np.zeros(NR, np.int64)
    ref_ptr = np.zeros(NR, np.int64)
    ref_tgt = np.zeros(NR, np.int64)
    ref_done = np.zeros(nbt, np.int64)
    ref_ndone = np.zeros(NR, np.int64)
    qcount = np.zeros(nbt, np.int64)
    interval = nrefi
    if refmode == 2:
        interval = refipb
    for r in range(NR):
        ref_due[r] = interval + (r * interval) // NR
    rq = np.zeros(Q, np.int64)
    wq = np.zeros(Q, np.int64)
    rq_n = 0
    wq_n = 0
    write_mode = 0
    now = 0
    nxt = 0
    done = 0
    nlog = 0
    open_cycles = 0
    status = 0

    while done < N:
        # ---- admit arrivals (in order; a full queue blocks) --------------------------------
        while nxt < N and arrival[nxt] <= now:
            k = nxt
            fb = (rank[k] * NBG + bg[k]) * NBA + bank[k]
            if is_write[k] != 0:
                if wq_n >= Q:
                    break
                wq[wq_n] = k
                wq_n += 1
                if open_row[fb] == row[k]:
                    pend_w[fb] += 1
            else:
                if rq_n >= Q:
                    break
                rq[rq_n] = k
                rq_n += 1
                if open_row[fb] == row[k]:
                    pend_r[fb] += 1
            enqueue[k] = now
            qcount[fb] += 1
            nxt += 1
        # ---- read/write mode -------------------------------------------------------------
        if write_mode == 1:
            if wq_n == 0 or (wq_n <= wlo and rq_n > 0):
                write_mode = 0
        else:
            if wq_n >= whi or (rq_n == 0 and wq_n > 0):
                write_mode = 1
        # ---- find the best command -------------------------------------------------------
        best_t = INF
        best_cls = 9
        best_cmd = -1
        best_pos = -1
        best_fb = -1
        best_r = 0
        best_g = 0
        best_k = -1
        # refresh candidates (class 0)
        if refmode != 0:
            for r in range(NR):
                if now < ref_due[r]:
                    continue
                if refmode == 1:
                    fb = r * nbpr
                    cmd = _REFAB
                    if open_cnt[r] > 0:
                        cmd = _PREA
                else:
                    # per-bank: a bank not yet refreshed in this round, preferring one with no
                    # queued request (JEDEC lets the controller choose the order within a round)
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
                    cmd = _REFPB
                    if open_row[fb] >= 0:
                        cmd = _PRE
                g = (fb % nbpr) // NBA
                t = earliest(cmd, r, g, fb, now, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes,
                             w_level, w_next, w_lat)
                if t < best_t:
                    best_t = t
                    best_cls = 0
                    best_cmd = cmd
                    best_fb = fb
                    best_r = r
                    best_g = g
                    best_pos = -1
                    best_k = -1
        # request candidates
        qn = rq_n
        if write_mode == 1:
            qn = wq_n
        for i in range(qn):
            if write_mode == 1:
                k = wq[i]
            else:
                k = rq[i]
            r = rank[k]
            g = bg[k]
            fb = (r * NBG + g) * NBA + bank[k]
            if refmode != 0 and now >= ref_due[r]:
                if refmode == 1 or fb == ref_tgt[r]:
                    continue
            orow = open_row[fb]
            if orow == row[k]:
                cmd = _RD
                if write_mode == 1:
                    cmd = _WR
                cls = 1
                if hits_since[fb] >= hitcap:
                    cls = 2
            elif orow < 0:
                cmd = _ACT
                cls = 2
            else:
                ph = pend_r[fb]
                if write_mode == 1:
                    ph = pend_w[fb]
                if ph > 0 and hits_since[fb] < hitcap:
                    continue
                cmd = _PRE
                cls = 2
            # prune: the channel-level bound already loses to the best so far (ties go to the
            # older request, which was seen first)
            t = max(nx[cmd], now)
            if t > best_t or (t == best_t and cls >= best_cls):
                continue
            t = earliest(cmd, r, g, fb, now, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes,
                         w_level, w_next, w_lat)
            if t < best_t or (t == best_t and cls < best_cls):
                best_t = t
                best_cls = cls
                best_cmd = cmd
                best_fb = fb
                best_r = r
                best_g = g
                best_pos = i
                best_k = k
                if t == now and cls == 1:
                    break  # the oldest ready row hit: nothing later can beat it
        # ---- next event before the best command? -------------------------------------------
        ev = INF
        if nxt < N:
            if is_write[nxt] != 0:
                if wq_n < Q:
                    ev = arrival[nxt]
            elif rq_n < Q:
                ev = arrival[nxt]
        if refmode != 0 and (rq_n + wq_n > 0 or nxt < N):
            for r in range(NR):
                if ref_due[r] > now and ref_due[r] < ev:
                    ev = ref_due[r]
        if ev <= best_t:
            if ev == INF:
                status = 1
                break
            now = ev
            continue
        # ---- issue ---------------------------------------------------------------------------
        T = best_t
        cmd = best_cmd
        fb = best_fb
        r = best_r
        g = best_g
        k = best_k
        if k >= 0 and (cmd == _RD or cmd == _WR):
            # serve the request
            if write_mode == 1:
                pend_w[fb] -= 1
                for j in range(best_pos, wq_n - 1):
                    wq[j] = wq[j + 1]
                wq_n -= 1
            else:
                pend_r[fb] -= 1
                for j in range(best_pos, rq_n - 1):
                    rq[j] = rq[j + 1]
                rq_n -= 1
            hits_since[fb] += 1
            qcount[fb] -= 1
            issue[k] = T
            done += 1
            if closed_policy != 0 and pend_r[fb] + pend_w[fb] == 0:
                cmd = _WRA if cmd == _WR else _RDA  # auto-precharge
        record(cmd, T, r, g, fb, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, c_ptr, c_level,
               c_next, c_lat, w_level, w_prev, w_lat, w_n)
        # bank state
        if cmd == _ACT:
            rv = row[k]
            open_row[fb] = rv
            hits_since[fb] = 0
            if open_cnt[r] == 0:
                open_start[r] = T
            open_cnt[r] += 1
            cr = 0
            for i in range(rq_n):
                kk = rq[i]
                if row[kk] == rv and (rank[kk] * NBG + bg[kk]) * NBA + bank[kk] == fb:
                    cr += 1
            cw = 0
            for i in range(wq_n):
                kk = wq[i]
                if row[kk] == rv and (rank[kk] * NBG + bg[kk]) * NBA + bank[kk] == fb:
                    cw += 1
            pend_r[fb] = cr
            pend_w[fb] = cw
        elif cmd == _PRE or cmd == _RDA or cmd == _WRA:
            open_row[fb] = -1
            pend_r[fb] = 0
            pend_w[fb] = 0
            open_cnt[r] -= 1
            if open_cnt[r] == 0:
                open_cycles += T - open_start[r]
        elif cmd == _PREA:
            for b in range(r * nbpr, (r + 1) * nbpr):
                open_row[b] = -1
                pend_r[b] = 0
                pend_w[b] = 0
            if open_cnt[r] > 0:
                open_cycles += T - open_start[r]
            open_cnt[r] = 0
        elif cmd == _REFAB:
            ref_due[r] += interval
        elif cmd == _REFPB:
            ref_due[r] += interval
            ref_ptr[r] = (fb - r * nbpr + 1) % nbpr
            ref_done[fb] = 1
            ref_ndone[r] += 1
            if ref_ndone[r] == nbpr:
                ref_ndone[r] = 0
                for b in range(r * nbpr, (r + 1) * nbpr):
                    ref_done[b] = 0
        counts[cmd] += 1
        nlog = log_command(log, logcap, nlog, T, cmd, r, g, fb % NBA,
                           row[k] if k >= 0 else -1, col[k] if k >= 0 else -1, k)
        now = T + 1

    for r in range(NR):
        if open_cnt[r] > 0:
            open_cycles += now - open_start[r]
    stats[S_NOW] = now
    stats[S_NLOG] = nlog
    stats[S_STATUS] = status
    stats[S_OPEN_CYCLES] = open_cycles
    return nlog


controller_kernel_py = controller_kernel
controller_kernel_nb = jit_twins(globals(), ("controller_kernel",), COMPILED,
                                 inline=False)["controller_kernel"]
