"""Replay a trace on a design point: map it, cost every op, schedule the steps, count.

The layers meet here: the mapping stage (:class:`~archsim.mapping.Mapper`) assigns each op its
device(s); each device prices its ops (:meth:`Device.op_cost`: a duration and action counts);
the :class:`~.scheduler.Scheduler` places them in time, keeping device, link and completion
state across steps; the counts are priced once at the end (:mod:`archsim.pricing`).
"""
from __future__ import annotations

import time
from collections import defaultdict
from operator import attrgetter, is_, itemgetter

import numpy as np

from ..devices.base import OpCost
from ..errors import SimulationError
from ..hardware import HardwareConfig
from ..mapping import Mapper
from ..trace.schema import OpKind, Trace
from .scheduler import Scheduler
from .system import System


#: a ``transfer`` op takes no device time: it marks what crosses a link (see the scheduler)
_NO_COST = OpCost(0)


class Simulator:
    """Simulates traces on one :class:`~archsim.hardware.HardwareConfig`.

    Op costs are memoized per (device, op signature): decode steps repeat every op but the
    attention ops, so a long generation prices each distinct op once. The memo only skips
    recomputation of a pure function; tests check memoized and fresh runs agree exactly.

    Parameters
    ----------
    hw : HardwareConfig
    record_timeline : bool or container of int
        Keep every op and transfer record (needed for ``--timeline``; memory grows with the
        trace); a container (e.g. a :class:`~archsim.engine.timeline.Selection`) keeps only the
        steps whose index it contains (all steps are simulated).
    memoize : bool
        Reuse op costs across identical ops.
    fast : bool
        Without a timeline, schedule with compiled step plans (:mod:`.fast`); the Python
        :class:`~.scheduler.Scheduler` gives the same numbers and records timelines.
    """

    def __init__(self, hw: HardwareConfig, *, record_timeline: bool = False,
                 memoize: bool = True, fast: bool = True) -> None:
        self.hw = hw
        self.system = System(hw)
        self.mapper = Mapper(hw.placement, hw.devices)
        self.record_timeline = record_timeline
        self.memoize = memoize
        self.fast = fast
        self._memo: dict = {}
        self._by_id: dict = {}

    def cost(self, where, op) -> OpCost:
        """Cost of ``op`` on device ``where`` (or on the member tuple of a collective)."""
        if type(where) is tuple:
            return OpCost(self.system.collective(op, where)[0])
        if op.kind is OpKind.TRANSFER:
            return _NO_COST
        dev = self.system.devices[where]
        if not self.memoize:
            return dev.op_cost(op)
        hit = self._by_id.get((where, id(op)))
        if hit is not None and hit[0] is op:
            return hit[1]
        key = (where, op.signature())
        c = self._memo.get(key)
        if c is None:
            c = self._memo[key] = dev.op_cost(op)
        self._by_id[(where, id(op))] = (op, c)
        return c

    def costs(self, wheres, ops) -> list:
        """``[self.cost(w, op) for w, op in zip(wheres, ops)]``, looked up in bulk when every op
        was costed before on its device, else with :meth:`cost` inlined."""
        by_id = self._by_id
        ids = list(zip(wheres, map(id, ops)))
        hits = list(map(by_id.get, ids))
        if None not in hits and all(map(is_, map(_first, hits), ops)):
            return list(map(_second, hits))
        if not self.memoize:
            return list(map(self.cost, wheres, ops))
        out = []
        append, memo, devices, cost = out.append, self._memo, self.system.devices, self.cost
        transfer = OpKind.TRANSFER
        for w, op, hit, k in zip(wheres, ops, hits, ids):
            if hit is not None and hit[0] is op:
                append(hit[1])
            elif type(w) is tuple or op.kind is transfer:
                append(cost(w, op))
            else:
                key = (w, op.signature())
                c = memo.get(key)
                if c is None:
                    c = memo[key] = devices[w].op_cost(op)
                by_id[k] = (op, c)
                append(c)
        return out

    def run(self, trace: Trace, *, progress: bool = False):
        """Simulate every step of ``trace`` in order; returns a :class:`RunResult`."""
        from ..pricing import price
        from ..results import RunResult
        t_wall = time.perf_counter()
        steps = trace.steps
        if not steps:
            raise SimulationError("the trace has no steps")
        lookback = _lookback(steps)
        n = len(steps)
        starts = np.zeros(n, dtype=np.int64)
        ends = np.zeros(n, dtype=np.int64)
        bar = None
        if progress:
            from ..progress import progress_bar
            bar = progress_bar(n, "step", "run")
        timeline = [] if self.record_timeline not in (False, None) else None
        merged = False
        if self.fast and self.memoize and timeline is None:
            occurrences, link_stats, host_wait, merged = self._run_fast(steps, lookback, starts,
                                                                        ends, bar)
        else:
            occurrences, link_stats, host_wait = self._run_python(steps, lookback, starts, ends,
                                                                  bar, timeline)
        if bar is not None:
            bar.close()
        time_kind, count_kind, actions = _tally(occurrences, merged)
        self._check_used(count_kind)
        # each step's share of the run: how far it moved the completion frontier
        frontier = np.maximum.accumulate(ends)
        step_ps = np.diff(frontier, prepend=0)
        counts = dict(time_by_kind=dict(time_kind), ops_by_kind=dict(count_kind),
                      actions=dict(actions),
                      link_stats=link_stats)
        priced = price(self.system, int(step_ps.sum()), counts["actions"], counts["link_stats"])
        return RunResult(hw=self.hw, system=self.system, trace=trace, step_ps=step_ps,
                         step_start_ps=starts, step_end_ps=ends, priced=priced,
                         timeline=timeline, wall_s=time.perf_counter() - t_wall,
                         host_wait_ps=host_wait, **counts)


    def _run_fast(self, steps, lookback, starts, ends, bar, merge: bool = True) -> tuple:
        """Schedule with compiled step plans; returns ``(occurrences, link_stats, host_wait,
        merged)``.

        Occurrences are counted merged per (device(s), kind, cost) while every cost's action
        counts are whole numbers; a cost with a fractional count (summed in floats, in order of
        the (device(s), op) entries) makes the run start again counting per op."""
        from .fast import FastScheduler, Fractional
        fs = FastScheduler(self, lookback, max(len(s.ops) for s in steps), merge=merge)
        step = fs.step
        try:
            for si, st in enumerate(steps):
                starts[si], ends[si] = step(st.ops, st.barrier)
                if bar is not None:
                    bar.update(1)
        except Fractional:
            if bar is not None:
                bar.reset()
            return self._run_fast(steps, lookback, starts, ends, bar, merge=False)
        return fs.close(), fs.link_stats(), fs.host_waits(), merge

    def _run_python(self, steps, lookback, starts, ends, bar, timeline) -> tuple:
        """Schedule with the Python :class:`Scheduler` (records the timeline if asked)."""
        sched = Scheduler(self.system, lookback)
        # ops are shared between steps (decode steps repeat all but the attention ops) and op
        # costs are memoized, so the accounting counts occurrences per (device, op) and prices
        # them once at the end
        occurrences: dict = {}   # (device or members, id(op)) -> [op, cost, count]
        link_stats = defaultdict(lambda: [0, 0])  # bytes, busy ps
        want = self.record_timeline if timeline is not None and \
            not isinstance(self.record_timeline, bool) else None
        map_step, cost = self.mapper.map_step, self.cost
        for si, step in enumerate(steps):
            where = map_step(step)
            costs = [cost(d, op) for d, op in zip(where, step.ops)]
            records = timeline is not None and (want is None or si in want)
            out = sched.step(step.ops, where, costs, barrier=step.barrier, records=records)
            starts[si], ends[si] = out.start_ps, out.end_ps
            for d, op, c in zip(where, step.ops, costs):
                key = (d, id(op))
                occ = occurrences.get(key)
                if occ is None:
                    occurrences[key] = [op, c, 1]
                else:
                    occ[2] += 1
            for tr in out.transfers:
                st = link_stats[tr.link.name]
                st[0] += tr.nbytes
                st[1] += tr.end_ps - tr.start_ps
            if records:
                timeline.append(_relative(si, step, out))
            if bar is not None:
                bar.update(1)
        return occurrences, {k: tuple(v) for k, v in link_stats.items()}, dict(sched.host_wait)

    def _check_used(self, count_kind) -> None:
        """Never collapse silently: every declared device must run something (or relay as a
        host), unless the design point says ``allow_unused_devices: true``."""
        if self.hw.allow_unused_devices:
            return
        used = {d for d, _ in count_kind}
        used |= {self.system.devices[d].host() for d in used} - {None}
        unused = [d for d in self.system.devices if d not in used]
        if unused:
            raise SimulationError(
                f"design point {self.hw.name!r} declares {len(unused)} device(s) that no op "
                f"runs on: {', '.join(unused)}; map ops onto them (placement rules, a "
                "parallelism plan) or set 'allow_unused_devices: true' to simulate without them")


_first, _second = itemgetter(0), itemgetter(1)


def _lookback(steps) -> int:
    """How many steps back any ``Op.prior`` reaches (distinct prior tuples per step only)."""
    get = attrgetter("prior")
    return max((b for st in steps for prior in set(map(get, st.ops)) for b, _ in prior),
               default=0)


def _tally(occurrences, merged: bool = False) -> tuple:
    """Time and op counts per (device, kind) and action counts per (device, kind, action).

    ``occurrences`` maps a key to ``[op, cost, count]`` in first-occurrence order: one entry per
    (device(s), op object), or with ``merged`` one per (device(s), kind, cost object), which
    the caller may use only when every cost is :func:`exact_cost`.

    An action whose every count is a whole number is summed exactly (integers) and converted to
    float once, so its total does not depend on the order of the occurrences, and occurrences
    of one cost on the same device(s) are merged first. An action with a fractional count is
    summed in floats in first-occurrence order of the (device(s), op) entries."""
    if merged:
        return _sums([where, op.kind, c, n] for (where, *_), (op, c, n) in occurrences.items())
    groups: dict = {}     # (where, kind, id(cost)) -> [where, kind, cost, count]
    for (where, _), (op, c, n) in occurrences.items():
        key = (where, op.kind, id(c))
        g = groups.get(key)
        if g is None:
            groups[key] = [where, op.kind, c, n]
        else:
            g[3] += n
    if all(exact_cost(g[2]) for g in groups.values()):
        return _sums(groups.values())
    return _sums([where, op.kind, c, n] for (where, _), (op, c, n) in occurrences.items())


def _whole(v) -> bool:
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


def exact_cost(c) -> bool:
    """Whether every action count of cost ``c`` is a whole number (summed exactly)."""
    return all(map(_whole, c.actions.values()))


def _sums(groups) -> tuple:
    time_kind = defaultdict(int)
    count_kind = defaultdict(int)
    floats = defaultdict(float)   # every action in first-occurrence order, summed in floats
    ints: dict = {}               # the exact integer sums (None once a fraction was seen)
    for where, kind, c, n in groups:
        kv = kind.value
        dn = c.duration_ps * n
        items = c.actions.items()
        for dev in (where if type(where) is tuple else (where,)):
            k = (dev, kv)
            time_kind[k] += dn
            count_kind[k] += n
            for a, v in items:
                k = (dev, kv, a)
                floats[k] += v * n
                if _whole(v):
                    t = ints.get(k, 0)
                    if t is not None:
                        ints[k] = t + int(v) * n
                else:
                    ints[k] = None
    actions = {k: (f if ints[k] is None else float(ints[k])) for k, f in floats.items()}
    return time_kind, count_kind, actions


def _relative(si, step, out) -> tuple:
    """A timeline entry ``(step index, step, t0, op records, transfers)``, times relative to the
    step's start ``t0``."""
    from .scheduler import OpRecord, TransferRecord
    t0 = out.start_ps
    recs = [OpRecord(r.op, r.device, r.start_ps - t0, r.end_ps - t0, r.cost, r.host_wait_ps)
            for r in out.records]
    trs = [TransferRecord(t.link, t.nbytes, t.start_ps - t0, t.end_ps - t0, t.op_name)
           for t in out.transfers]
    return si, step, t0, recs, trs
