"""The FR-FCFS choice among queued requests, one scan of the queues per issued command.

The controller (:mod:`archsim.dram.kernel`) picks, among the commands its queued requests need
now, the one with the smallest earliest legal cycle, then the smallest class (1 row hit, 2
other), then the oldest request (first ready, then first come; Rixner et al., ISCA 2000). The
scan is the hot loop of the simulator (measured with ``perf``: about 30 % of the compiled
loop's samples on random traffic, some 28 queue entries per issued command, three commands per
request), so it is written to run without data-dependent branches:

* :func:`scan_bounds` computes, once per scan, the parts of every request command's earliest
  cycle that do not depend on the bank (:func:`archsim.dram.timing.rank_bound`: the channel, the
  rank, tFAW), per rank and command (ACT, PRE, RD, WR), and the bank (``-1``: every bank,
  ``-2``: none) a due refresh holds at each rank;
* :func:`request_key` gives each request one integer, ``4 * cycle + class``, or :data:`INF`
  when it cannot be served now (its PRE is held back, its bank is being refreshed, or it is a
  request of the other queue whose row was not opened for it), computed with selects rather
  than branches; the bank-group and bank next-allowed cycles are read directly (and the
  per-bank-group or per-bank rolling windows, where a standard has any, through
  :func:`archsim.dram.timing.bank_bound`); a queue entry holds its request's flat bank, row
  and rank beside its index, and both the hit and the miss key are loaded and one selected;
* :func:`scan_floor` bounds every key from below by the channel and rank parts alone; the scan
  stops at the first request that reaches it;
* the per-bank keys (:func:`bank_keys`: :func:`hit_keys` and :func:`miss_key`) are kept up to
  date: recomputed for the banks whose state or bank/bank-group timing changed, and for the
  other banks of an issued command's group only the keys its bank-group rules reach.

Array indices known to be non-negative are cast to unsigned (:data:`archsim.dram.timing.U`) so
that numba does not emit the negative-index wraparound for them.

The scan keeps the first smallest key, which is exactly the smallest (cycle, class) with ties
to the older request, as before; every result is bit-identical to the branchy scan it replaced
(golden outputs, twin-vs-numba logs and the independent checker).
"""
from __future__ import annotations

from .timing import COMPILED, INF, U, bank_bound, jit_twins, rank_bound

# the request commands, in the order of a scan's bounds: ACT (closed bank), PRE (conflict),
# RD (read hit), WR (write hit)
J_ACT, J_PRE, J_RD, J_WR = range(4)
NJ = 4


def mark_dirty(b, dirty, dlist):
    """Put bank ``b`` on the list of banks whose keys must be recomputed (``dlist[-1]`` is the
    list's length)."""
    if dirty[U(b)] == 0:
        dirty[U(b)] = 1
        n = dlist[U(dlist.shape[0] - 1)]
        dlist[U(n)] = b
        dlist[U(dlist.shape[0] - 1)] = n + 1


def mark_range(lo, hi, dirty, dlist):
    """Mark banks ``lo .. hi - 1`` dirty."""
    for b in range(lo, hi):
        mark_dirty(b, dirty, dlist)


def scan_bounds(now, mode, refmode, NR, nbpr, cmdj, ref_due, ref_tgt, ref_hold, bound4, rbank,
                seen, dirty, dlist, nx, nc, NBG, hist, hptr, wmax, n_nodes, w_level, w_next,
                w_lat):
    """Per rank ``r`` and request command ``j``: ``bound4[NJ * r + j]``, 4 x the earliest cycle
    of command ``cmdj[j]`` at the channel and rank levels (at least ``now``); ``rbank[r]``, the
    flat bank a due refresh holds (``-1`` the whole rank, ``-2`` none). Banks whose keys depend
    on what changed since the last scan (the mode; a rank's refresh state, kept in ``seen``)
    are marked dirty."""
    if seen[0] != mode:
        seen[0] = mode
        mark_range(0, NR * nbpr, dirty, dlist)
    for r in range(NR):
        for j in range(NJ):
            bound4[U(NJ * r + j)] = 4 * rank_bound(cmdj[U(j)], r, now, nx, nc, NR, NBG, hist, hptr,
                                                wmax, n_nodes, w_level, w_next, w_lat)
        if refmode != 0 and now >= ref_due[r]:
            rb = -1 if refmode == 1 else ref_tgt[r]
        else:
            rb = -2
        rbank[r] = rb
        old = seen[1 + 2 * r]
        if old != rb or seen[2 + 2 * r] != ref_hold[r]:
            seen[1 + 2 * r] = rb
            seen[2 + 2 * r] = ref_hold[r]
            # a bank's keys see the refresh state only through "is it being refreshed" (and,
            # if so, the hold): a per-bank refresh moving from one bank to another, starting,
            # ending or changing its hold touches those banks alone
            if old == -1 or rb == -1:
                mark_range(r * nbpr, (r + 1) * nbpr, dirty, dlist)
            else:
                if old >= 0:
                    mark_dirty(old, dirty, dlist)
                if rb >= 0:
                    mark_dirty(rb, dirty, dlist)


def scan_floor(mode, other, NR, bound4):
    """A lower bound of every request's key in this scan, from the channel and rank parts alone:
    ``bound4`` of RD/WR of queue ``mode`` (and of the other queue if ``other``) plus class 1, of
    ACT and PRE plus class 2. The first request whose key reaches it is the scan's choice (no
    later one can have a smaller key, and ties go to the older), so the scan stops there."""
    f = INF
    for r in range(NR):
        e = NJ * r
        v = bound4[U(e + J_RD + mode)] + 1
        f = v if v < f else f
        if other:
            v = bound4[U(e + J_RD + 1 - mode)] + 1
            f = v if v < f else f
        v = bound4[U(e + J_ACT)] + 2
        f = v if v < f else f
        v = bound4[U(e + J_PRE)] + 2
        f = v if v < f else f
    return f


def bank_part(cmd, r, g, b, deep, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, w_level,
              w_next, w_lat):
    """The bank-group and bank part of ``cmd``'s earliest cycle at bank ``b`` (group ``g`` of rank
    ``r``): :func:`archsim.dram.timing.bank_bound` from 0, its window loop only where the
    standard has rolling windows per bank group or bank (``deep``)."""
    if deep:
        return bank_bound(cmd, r, g, b, 0, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, w_level,
                          w_next, w_lat)
    u = nx[U((1 + NR + r * NBG + g) * nc + cmd)]
    v = nx[U((1 + NR + NR * NBG + b) * nc + cmd)]
    return u if u > v else v


def bank_keys(b, r, g, mode, hitcap, open_row, hits_since, pend, pend_act, rbank, ref_hold,
              cmdj, hkey, mkey, mj, deep, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, w_level,
              w_next, w_lat):
    """The keys of bank ``b``, without the channel and rank part: ``hkey[m * banks + b]`` for a
    row hit of queue ``m`` (4 x the bank-group and bank part of RD/WR's earliest cycle, plus the
    class), ``mkey[b]`` for a request of the served queue that misses (ACT or PRE, ``mj[b]``),
    :data:`INF` where such a request cannot be served now.

    Bank ``b`` is bank group ``g`` of rank ``r``. The rules (FR-FCFS): RD/WR on a row hit
    (class 1, or 2 past ``hitcap`` hits since the ACT), ACT on a closed bank, PRE on a conflict
    (class 2). A conflict PRE is held back while a request the row was opened for waits (either
    queue: row-aware drain, as Ramulator 2's active buffer) and while the served queue has hits
    to the open row, up to ``hitcap`` hits since the ACT. A bank (rank) being refreshed takes
    only row hits, and only while the refresh waits for them.
    """
    hit_keys(b, r, g, hitcap, hits_since, rbank, ref_hold, cmdj, hkey, deep, nx, nc, NR, NBG,
             hist, hptr, wmax, n_nodes, w_level, w_next, w_lat)
    miss_key(b, r, g, mode, hitcap, open_row, hits_since, pend, pend_act, rbank, cmdj, mkey, mj,
             deep, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, w_level, w_next, w_lat)


def hit_keys(b, r, g, hitcap, hits_since, rbank, ref_hold, cmdj, hkey, deep, nx, nc, NR, NBG,
             hist, hptr, wmax, n_nodes, w_level, w_next, w_lat):
    """The row-hit keys of bank ``b`` for both queues (``hkey``), see :func:`bank_keys`."""
    nbt = hkey.shape[0] // 2
    rb = rbank[U(r)]
    refreshing = rb == -1 or rb == b
    cls = 1 if hits_since[U(b)] < hitcap else 2
    for m in range(2):
        if refreshing and ref_hold[U(r)] == 0:
            hkey[U(m * nbt + b)] = INF
        else:
            t = bank_part(cmdj[U(J_RD + m)], r, g, b, deep, nx, nc, NR, NBG, hist, hptr, wmax,
                          n_nodes, w_level, w_next, w_lat)
            hkey[U(m * nbt + b)] = 4 * t + cls


def miss_key(b, r, g, mode, hitcap, open_row, hits_since, pend, pend_act, rbank, cmdj, mkey, mj,
             deep, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, w_level, w_next, w_lat):
    """The key of bank ``b`` for a request of queue ``mode`` that misses (``mkey``, command
    ``mj``), see :func:`bank_keys`."""
    rb = rbank[U(r)]
    refreshing = rb == -1 or rb == b
    under = hits_since[U(b)] < hitcap
    orow = open_row[U(b)]
    j = J_ACT if orow < 0 else J_PRE
    mj[U(b)] = j
    held = orow >= 0 and (pend_act[U(b)] > 0 or pend[U(mode), U(b)] > 0 and under)
    if refreshing or held:
        mkey[U(b)] = INF
    else:
        t = bank_part(cmdj[U(j)], r, g, b, deep, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes,
                      w_level, w_next, w_lat)
        mkey[U(b)] = 4 * t + 2


def update_keys(mode, hitcap, brank, bgrp, qcount, open_row, hits_since, pend, pend_act, rbank,
                ref_hold, cmdj, hkey, mkey, mj, dirty, dlist, deep, nx, nc, NR, NBG, hist, hptr,
                wmax, n_nodes, w_level, w_next, w_lat):
    """Recompute the keys of the dirty banks that have queued requests (a bank without is
    marked dirty again when one is admitted) and empty the list; ``brank``/``bgrp``: the rank
    and bank group of each bank."""
    n = dlist[dlist.shape[0] - 1]
    for i in range(n):
        b = dlist[U(i)]
        dirty[U(b)] = 0
        if qcount[U(b)] > 0:
            bank_keys(b, brank[U(b)], bgrp[U(b)], mode, hitcap, open_row, hits_since, pend,
                      pend_act, rbank, ref_hold, cmdj, hkey, mkey, mj, deep, nx, nc, NR, NBG,
                      hist, hptr, wmax, n_nodes, w_level, w_next, w_lat)
    dlist[dlist.shape[0] - 1] = 0


def request_key(k, fb, rowk, rk, m, other, open_row, active, hkey, mkey, mj, bound4):
    """``4 * cycle + class`` of request ``k`` (flat bank ``fb``, row ``rowk``, rank ``rk``) of
    queue ``m`` (``other``: not the queue being served, whose requests are scanned only for hits
    to rows opened for them), or :data:`INF` if it cannot be served now: the max of its bank's
    key and the channel and rank part."""
    nbt = mkey.shape[0]
    ub = U(fb)
    hit = open_row[ub] == rowk
    if other:
        kb = hkey[U(m * nbt) + ub] if (hit and active[U(k)] != 0) else INF
        j = J_RD + m
    else:
        # both loads unconditional, so that the choice is a select and not a branch (a hit or
        # a miss is unpredictable on random traffic)
        h = hkey[U(m * nbt) + ub]
        mk = mkey[ub]
        mjb = mj[ub]
        kb = h if hit else mk
        j = J_RD + m if hit else mjb
    v = bound4[U(NJ * rk + j)] + (kb & 3)
    return kb if kb > v else v


#: compiled parts, inlined into the controller loop
PARTS = jit_twins(globals(), ("mark_dirty", "mark_range", "scan_bounds", "scan_floor",
                              "bank_part", "hit_keys", "miss_key", "bank_keys", "update_keys",
                              "request_key"), COMPILED)
