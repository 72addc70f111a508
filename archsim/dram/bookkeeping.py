"""Queue, bank and refresh bookkeeping of the FR-FCFS controller (:mod:`archsim.dram.kernel`).

The loop's parts, one per step of the algorithm of :mod:`archsim.dram.kernel`, each a plain
Python function over int64 arrays that numba inlines into the loop (``inline="always"``):
:func:`admit` (arrivals into the read and write queues), :func:`next_mode` (write drain between
watermarks), :func:`refresh_target` and :func:`refresh_waits` (the refresh due at a rank, and
whether it waits for queued hits), :func:`next_event` (next arrival or refresh deadline),
:func:`serve` (a request's RD/WR), :func:`update_banks` and :func:`update_refresh` (bank and
refresh state on issue). The command each queued request needs now, and its earliest cycle,
are the scan's (:mod:`archsim.dram.scan`).
The per-bank and per-rank state rows (``B_*``, ``R_*``) and the controller's command names
(:data:`CONTROLLER_COMMANDS`, ids ``I_*``) are defined here.
"""
from __future__ import annotations

from .timing import COMPILED, INF, U, jit_twins

# rows of the per-bank state: open row (-1 closed), row hits served since the ACT, queued
# requests, refreshed in the current per-bank refresh round
B_OPEN_ROW, B_HITS, B_QUEUED, B_REFRESHED, B_ACTIVE = range(5)
NBANKSTATE = 5
# rows of the per-rank state: open banks, cycle the first of them opened, next refresh deadline,
# where the per-bank round search starts, the bank being refreshed, banks refreshed this round,
# whether a due refresh is waiting for queued hits to the rows it would close
R_OPEN, R_OPEN_SINCE, R_REF_DUE, R_REF_NEXT, R_REF_BANK, R_REF_DONE, R_REF_HOLD = range(7)
NRANKSTATE = 7
# fields of a queue entry (``queue[m, QF * pos + Q_*]``): request, flat bank, row, rank
Q_K, Q_FB, Q_ROW, Q_RANK = range(4)
QF = 4

#: the commands the controller issues; ``ids[i]`` is the id of ``CONTROLLER_COMMANDS[i]``
CONTROLLER_COMMANDS = ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb")
I_ACT, I_PRE, I_PREA, I_RD, I_WR, I_RDA, I_WRA, I_REFAB, I_REFPB = (
    CONTROLLER_COMMANDS.index(n) for n in CONTROLLER_COMMANDS)


def admit(now, nxt, arrival, is_write, row, fbank, rank, queue, qn, Q, open_row, pend, qcount,
          enqueue):
    """Move arrived requests (in order) into the read (0) or write (1) queue until the one the
    next request needs is full; returns the index of the next request not yet admitted. Entry
    ``pos`` of queue ``m`` is ``queue[m, QF * pos + f]`` for the fields ``f`` (``Q_*``: the
    request, its flat bank, row and rank), so the scan reads one entry's fields together,
    without going through the request."""
    N = arrival.shape[0]
    while nxt < N and arrival[nxt] <= now:
        k = nxt
        m = 1 if is_write[k] != 0 else 0
        if qn[m] >= Q:
            break
        fb = fbank[k]
        e = QF * qn[m]
        queue[m, e + Q_K] = k
        queue[m, e + Q_FB] = fb
        queue[m, e + Q_ROW] = row[k]
        queue[m, e + Q_RANK] = rank[k]
        qn[m] += 1
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
    b2 = r * nbpr + ref_ptr[r] - 1
    for j in range(nbpr):
        # bank r * nbpr + (ref_ptr[r] + j) % nbpr, wrapping without a division
        b2 = b2 + 1 if b2 + 1 < (r + 1) * nbpr else r * nbpr
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
    for j in range(QF * pos, QF * (n - 1)):
        queue[U(mode), U(j)] = queue[U(mode), U(j + QF)]
    qn[mode] = n - 1
    hits_since[fb] += 1
    qcount[fb] -= 1
    issue[k] = T
    if closed_policy != 0 and pend[0, fb] + pend[1, fb] == 0:
        return ids[I_WRA] if cmd == ids[I_WR] else ids[I_RDA]
    return cmd


def update_banks(T, cmd, r, fb, k, ids, nbpr, row, is_write, queue, qn, qcount, pend,
                 pend_act, open_row, hits_since, open_cnt, open_start):
    """Bank state after issuing ``cmd`` (ACT, PRE, RDA/WRA, PREA); returns the cycles of rank
    ``r`` with an open bank that ended now. On an ACT the queued hits to the new row are
    counted per queue (without a scan when request ``k`` is the only one queued to the bank)."""
    ended = 0
    if cmd == ids[I_ACT]:
        rv = row[k]
        open_row[fb] = rv
        hits_since[fb] = 0
        if open_cnt[r] == 0:
            open_start[r] = T
        open_cnt[r] += 1
        if qcount[fb] == 1:
            mk = 1 if is_write[k] != 0 else 0
            pend[mk, fb] = 1
            pend[1 - mk, fb] = 0
            return ended
        for m in range(2):
            c = 0
            for i in range(qn[m]):
                if queue[m, QF * i + Q_ROW] == rv and queue[m, QF * i + Q_FB] == fb:
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


#: the parts of the loop, inlined into it by numba (``inline="always"``)
PART_NAMES = ("admit", "next_mode", "refresh_target", "refresh_waits",
              "next_event", "serve", "update_banks", "update_refresh")
#: the compiled parts, for the loop's :func:`~archsim.dram.timing.jit_twins`
PARTS = jit_twins(globals(), PART_NAMES, COMPILED)
