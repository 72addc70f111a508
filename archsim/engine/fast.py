"""The compiled run loop: a step's plan is reused while its structure repeats.

Decode steps share op objects; only the attention ops (and the transfers a parallelism plan
attaches to them) are new in each step, with new costs and output sizes. :func:`run_steps`
compares each step's ops with the previous step's by identity; when every op that is not the
same object has the same name, kind, dependencies and pins as the one it replaces (so the same
assignment), and every size-dependent route it feeds stays the same, the previous
:class:`~.plan.StepPlan` is reused with those ops' durations and sizes updated; otherwise a new
plan is compiled. The schedule itself runs in :func:`~.kernel.schedule_step`.

Op occurrences are counted per run of identical ops at a position, so only the ops that change
touch the Python dictionary; the dictionary's keys are inserted in the same order as a per-op
count would insert them, so the float sums of the tally are the same. Tests check the results
equal the Python :class:`~.scheduler.Scheduler` and the SimPy oracle exactly.
"""
from __future__ import annotations

from operator import is_

import numpy as np

from .kernel import schedule_step_nb, schedule_step_py
from .plan import Network, StepPlan
from .simulator import exact_cost


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
        self.occurrences: dict = {}
        self.merge = merge
        self._pos_occ: list = []
        self._run_start: list = []

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
                                  net.link_bw, self.link_bytes, self.link_busy, self.link_seen, t_bar)
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
        self._flush(range(len(self._pos_occ)))
        self._pos_occ = [None] * len(ops)
        self._run_start = [self.index] * len(ops)
        self._count(ops, where, costs, range(len(ops)))
        return plan

    def _reuse(self, ops):
        """The current plan updated for ``ops``, or None when the structure differs."""
        plan, prev = self.plan, self.prev_ops
        n = plan.n
        same = np.fromiter(map(is_, ops, prev), dtype=np.bool_, count=n)
        changed = np.flatnonzero(~same).tolist()
        for i in changed:
            a, b = ops[i], prev[i]
            if a.name != b.name or a.kind is not b.kind or a.deps != b.deps or \
                    a.prior != b.prior or a.devices != b.devices:
                return None
        for back, d, w in plan.prior_where:
            if self.history[-back][1][d] != w:
                return None
        sim, where, coll = self.sim, plan.where, plan.coll
        costs = []
        for i in changed:
            op, w = ops[i], where[i]
            if coll[i] is not None and sim.system.collective(op, w) is not coll[i]:
                return None
            costs.append(sim.cost(w, op))
        if not self._routes_hold(plan, ops, changed):
            return None
        dur, nbytes = plan.dur, plan.nbytes
        for i, c in zip(changed, costs):
            dur[i] = c.duration_ps
            nbytes[i] = ops[i].bytes_written
        self._flush(changed)
        self._count(ops, where, costs, changed)
        return plan

    def _routes_hold(self, plan, ops, changed) -> bool:
        net, routes = self.net, plan.routes
        moves_from = plan.moves_from
        if moves_from:
            for i in changed:
                for r, src, dst in moves_from.get(i, ()):
                    if net.route(src, dst, ops[i].bytes_written) != routes[r]:
                        return False
        for back, d, src, dst, r, sized in plan.prior_moves:
            if sized and net.route(src, dst, self.history[-back][0][d].bytes_written) \
                    != routes[r]:
                return False
        return True

    # ---- occurrence counting ---------------------------------------------------------------
    def _flush(self, positions) -> None:
        s, pos_occ, run_start = self.index, self._pos_occ, self._run_start
        for i in positions:
            occ = pos_occ[i]
            if occ is not None:
                occ[2] += s - run_start[i]
                run_start[i] = s

    def _count(self, ops, where, costs, positions) -> None:
        occurrences, pos_occ, run_start, s = self.occurrences, self._pos_occ, self._run_start, \
            self.index
        merge = self.merge
        for i, c in zip(positions, costs):
            op = ops[i]
            key = (where[i], op.kind, id(c)) if merge else (where[i], id(op))
            occ = occurrences.get(key)
            if occ is None:
                if merge and not exact_cost(c):
                    raise Fractional(op.name)
                occ = occurrences[key] = [op, c, 0]
            pos_occ[i] = occ
            run_start[i] = s

    def close(self) -> dict:
        """Count the runs still open; returns the occurrences ``(where, id(op)) -> [op, cost,
        count]`` (merged: ``(where, kind, id(cost))``) in first-occurrence order."""
        self.index += 1
        self._flush(range(len(self._pos_occ)))
        return self.occurrences

    def link_stats(self) -> dict:
        """``{link name: (bytes, busy ps)}`` of every link used, in order of first use."""
        used = [(self.link_seen[i], name, i) for name, i in self.net.link_index.items()
                if self.link_seen[i] >= 0]
        return {name: (int(self.link_bytes[i]), int(self.link_busy[i]))
                for _, name, i in sorted(used)}
