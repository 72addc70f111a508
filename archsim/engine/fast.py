"""The compiled run loop: a step's plan is reused while its structure repeats.

Decode steps share op objects; only the attention ops (and the transfers a parallelism plan
attaches to them) are new in each step, with new costs and output sizes. :func:`run_steps`
compares each step's ops with the previous step's by identity; when every op that is not the
same object has the same name, kind, dependencies and pins as the one it replaces (so the same
assignment), and every size-dependent route it feeds stays the same, the previous
:class:`~.plan.StepPlan` is reused with those ops' durations and sizes updated; otherwise a new
plan is compiled. The schedule itself runs in :func:`~.kernel.schedule_step`.

Op occurrences are counted per run of identical ops at a position, so only the ops that change
touch the Python dictionary; while every cost's action counts are whole numbers they are merged
per (device(s), kind, cost object) as they are counted (the tally sums whole counts exactly, so
merging changes no number; the keys keep the order a per-op count would give them). The per-op
work of a step is done in bulk (``map`` over the changed positions, numpy for the counts).
Tests check the results equal the Python :class:`~.scheduler.Scheduler` and the SimPy oracle
exactly.
"""
from __future__ import annotations

from itertools import compress, repeat
from operator import attrgetter, is_, is_not

import numpy as np

from .kernel import schedule_step_nb, schedule_step_py
from .plan import Network, StepPlan
from .simulator import exact_cost


_structure = attrgetter("name", "kind", "deps", "prior", "devices")
_kind = attrgetter("kind")
_duration = attrgetter("duration_ps")
_written = attrgetter("bytes_written")


class Fractional(Exception):
    """A cost with a fractional action count met while counting merged occurrences."""


class FastScheduler:
    """Schedules a sequence of steps with reusable plans; state kept in arrays.

    Parameters
    ----------
    sim : Simulator
        Supplies the mapper, op costs and the system.
    lookback : int
        How many steps back ``Op.prior`` reaches.
    max_ops : int
        The largest step's op count.
    compiled : bool
        Run the numba kernel (else its Python twin, same source).
    merge : bool
        Count occurrences per (device(s), kind, cost object) instead of per (device(s), op
        object); :meth:`step` raises :class:`Fractional` at the first cost with a fractional
        action count (those are summed in floats per op, see ``simulator._tally``).
    """

    def __init__(self, sim, lookback: int, max_ops: int, *, compiled: bool = True,
                 merge: bool = False) -> None:
        self.sim = sim
        self.net = net = Network(sim.system)
        self.kernel = schedule_step_nb if compiled else schedule_step_py
        self.rows = lookback + 1
        self.history: list = []                   # (ops, where) of the last `lookback` steps
        self.lookback = lookback
        self.width = max(max_ops, 1)
        self.ends = np.zeros((self.rows, self.width), dtype=np.int64)
        self.bytes = np.zeros((self.rows, self.width), dtype=np.int64)
        self.arrived = np.full((self.rows, 16), -1, dtype=np.int64)
        self.dev_free = np.zeros(len(net.dev_index), dtype=np.int64)
        self.host_free = np.zeros(len(net.dev_index), dtype=np.int64)
        self.host_wait = np.zeros(len(net.dev_index), dtype=np.int64)
        nl = len(net.link_index)
        self.link_free = np.zeros(nl, dtype=np.int64)
        self.link_bytes = np.zeros(nl, dtype=np.int64)
        self.link_busy = np.zeros(nl, dtype=np.int64)
        self.link_seen = np.full(nl + 1, -1, dtype=np.int64)
        self.link_seen[-1] = 0
        self.finish = 0
        self.index = -1
        self.plan = None
        self.prev_ops = None
        self.plan_count = 0
        # occurrence counting: per position, the occurrence entry and the step its run began
        self.merge = merge
        self._groups: dict = {}        # occurrence key -> group index
        self._rows: list = []          # group index -> (op, cost)
        self._counts = np.zeros(1024, dtype=np.int64)
        self._pos_grp = np.zeros(0, dtype=np.int64)
        self._run_start = np.zeros(0, dtype=np.int64)

    # ---- one step ------------------------------------------------------------------------
    def step(self, ops, barrier: bool) -> tuple:
        """Schedule the next step; returns its ``(start_ps, end_ps)``."""
        self.index += 1
        s = self.index
        t_bar = self.finish if barrier else 0
        plan = self._reuse(ops) if self.plan is not None and len(ops) == self.plan.n else None
        if plan is None:
            plan = self._compile(ops)
        self.plan, self.prev_ops = plan, ops
        row = s % self.rows
        n = plan.n
        if n == 0:
            self._remember(ops, plan)
            return (t_bar if barrier else self.finish), self.finish
        self.bytes[row, :n] = plan.nbytes
        if len(self.net.slots) > self.arrived.shape[1]:
            grown = np.full((self.rows, 2 * len(self.net.slots)), -1, dtype=np.int64)
            grown[:, :self.arrived.shape[1]] = self.arrived
            self.arrived = grown
        self.arrived[row, :] = -1
        net = self.net
        first, last = self.kernel(*plan.arrays, self.ends, self.bytes, self.arrived, row,
                                  self.rows, self.dev_free, self.link_free, net.link_lat,
                                  net.link_bw, self.link_bytes, self.link_busy, self.link_seen, t_bar,
                                  net.dispatch, self.host_free, self.host_wait)
        self._remember(ops, plan)
        start = t_bar if barrier else first
        if last > self.finish:
            self.finish = last
        return start, last

    def _remember(self, ops, plan) -> None:
        if self.lookback:
            self.history.append((ops, plan.where))
            if len(self.history) > self.lookback:
                del self.history[0]

    def _compile(self, ops) -> StepPlan:
        sim = self.sim
        where = [sim.mapper.assign(op) for op in ops]
        costs = [sim.cost(w, op) for w, op in zip(where, ops)]
        self.plan_count += 1
        plan = StepPlan(self.net, ops, where, costs, self.history)
        self._flush(np.flatnonzero(self._pos_grp >= 0))
        n = len(ops)
        self._pos_grp = np.full(n, -1, dtype=np.int64)
        self._run_start = np.zeros(n, dtype=np.int64)
        self._count(ops, where, costs, np.arange(n))
        return plan

    def _reuse(self, ops):
        """The current plan updated for ``ops``, or None when the structure differs."""
        plan, prev = self.plan, self.prev_ops
        changed = list(compress(range(plan.n), map(is_not, ops, prev)))
        new = list(map(ops.__getitem__, changed))
        if list(map(_structure, new)) != list(map(_structure, map(prev.__getitem__, changed))):
            return None
        history = self.history
        for back, d, w in plan.prior_where:
            if history[-back][1][d] != w:
                return None
        sim, where = self.sim, plan.where
        if plan.coll_at and not plan.coll_at.isdisjoint(changed):
            for i in plan.coll_at.intersection(changed):
                if sim.system.collective(ops[i], where[i]) is not plan.coll[i]:
                    return None
        wheres = list(map(where.__getitem__, changed))
        costs = sim.costs(wheres, new)
        if not self._routes_hold(plan, ops, changed):
            return None
        idx = np.array(changed, dtype=np.int64)
        plan.dur[idx] = list(map(_duration, costs))
        plan.nbytes[idx] = list(map(_written, new))
        self._flush(idx)
        self._count(new, wheres, costs, idx)
        return plan

    def _routes_hold(self, plan, ops, changed) -> bool:
        net, routes = self.net, plan.routes
        moves_from = plan.moves_from
        if moves_from:
            for i in moves_from.keys() & changed:
                for r, src, dst in moves_from[i]:
                    if net.route(src, dst, ops[i].bytes_written) != routes[r]:
                        return False
        for back, d, src, dst, r, sized in plan.prior_moves:
            if sized and net.route(src, dst, self.history[-back][0][d].bytes_written) \
                    != routes[r]:
                return False
        return True

    # ---- occurrence counting ---------------------------------------------------------------
    # Each position counts a run of steps of one group (an occurrence entry): ``_pos_grp`` the
    # group's index (-1: none), ``_run_start`` the step the run began; a run is added to its
    # group's count when the op at the position changes, and at the end.
    def _flush(self, idx) -> None:
        g = self._pos_grp[idx]
        keep = g >= 0
        if not keep.all():
            idx, g = idx[keep], g[keep]
        np.add.at(self._counts, g, self.index - self._run_start[idx])
        self._run_start[idx] = self.index

    def _count(self, ops, where, costs, idx) -> None:
        """Start runs of ``ops`` (with assignments ``where`` and costs ``costs``) at the
        positions ``idx``."""
        if self.merge:
            keys = list(zip(where, map(_kind, ops), map(id, costs)))
        else:
            keys = list(zip(where, map(id, ops)))
        groups = self._groups
        gids = list(map(groups.get, keys))
        if None in gids:
            rows, merge = self._rows, self.merge
            for j in compress(range(len(gids)), map(is_, gids, repeat(None))):
                g = groups.get(keys[j])
                if g is None:
                    c = costs[j]
                    if merge and not exact_cost(c):
                        raise Fractional(ops[j].name)
                    g = groups[keys[j]] = len(rows)
                    rows.append((ops[j], c))
                gids[j] = g
            if len(rows) > len(self._counts):
                grown = np.zeros(2 * len(rows), dtype=np.int64)
                grown[:len(self._counts)] = self._counts
                self._counts = grown
        self._pos_grp[idx] = gids
        self._run_start[idx] = self.index

    def close(self) -> dict:
        """Count the runs still open; returns the occurrences ``(where, id(op)) -> [op, cost,
        count]`` (merged: ``(where, kind, id(cost))``) in first-occurrence order."""
        self.index += 1
        self._flush(np.flatnonzero(self._pos_grp >= 0))
        counts, rows = self._counts.tolist(), self._rows
        return {key: [*rows[g], counts[g]] for key, g in self._groups.items()}

    def host_waits(self) -> dict:
        """``{device: ps its queue waited for its host}`` of every device with a host stack."""
        return {name: int(self.host_wait[i]) for name, i in self.net.dev_index.items()
                if self.net.dispatch[i] > 0}

    def link_stats(self) -> dict:
        """``{link name: (bytes, busy ps)}`` of every link used, in order of first use."""
        used = [(self.link_seen[i], name, i) for name, i in self.net.link_index.items()
                if self.link_seen[i] >= 0]
        return {name: (int(self.link_bytes[i]), int(self.link_busy[i]))
                for _, name, i in sorted(used)}
