"""Replay a trace on a hardware design point: step by step, op by op."""
from __future__ import annotations

import time
from collections import defaultdict

import numpy as np

from ..errors import SimulationError
from ..hardware import HardwareConfig
from ..trace.schema import Trace
from .step import simulate_step
from .system import System


class Simulator:
    """Simulates traces on one :class:`~archsim.hardware.HardwareConfig`.

    Op costs are memoized per (device, op signature): decode steps repeat every op but the
    attention ops, so a long generation prices each distinct op once. The memo only skips
    recomputation of a pure function; tests check memoized and fresh runs agree exactly.

    Parameters
    ----------
    hw : HardwareConfig
    record_timeline : bool
        Keep every op and transfer record (needed for ``--timeline``; memory grows with the trace).
    memoize : bool
        Reuse op costs across identical ops.
    """

    def __init__(self, hw: HardwareConfig, *, record_timeline: bool = False,
                 memoize: bool = True) -> None:
        self.hw = hw
        self.system = System(hw)
        self.record_timeline = record_timeline
        self.memoize = memoize
        self._memo: dict = {}
        self._by_id: dict = {}

    def _cost(self, dev_name, op):
        dev = self.system.devices[dev_name]
        if not self.memoize:
            return dev.op_cost(op)
        hit = self._by_id.get((dev_name, id(op)))
        if hit is not None and hit[0] is op:
            return hit[1]
        key = (dev_name, op.signature())
        c = self._memo.get(key)
        if c is None:
            c = self._memo[key] = dev.op_cost(op)
        self._by_id[(dev_name, id(op))] = (op, c)
        return c

    def run(self, trace: Trace, *, progress: bool = False):
        """Simulate every step of ``trace`` in order; returns a :class:`RunResult`."""
        from ..results import RunResult
        t_wall = time.perf_counter()
        steps = trace.steps
        if not steps:
            raise SimulationError("the trace has no steps")
        durations = np.zeros(len(steps), dtype=np.int64)
        # ops are shared between steps (decode steps repeat all but the attention ops) and op
        # costs are memoized, so the accounting counts occurrences per (device, op) and prices
        # them once at the end
        occurrences: dict = {}   # (device, id(op)) -> [op, cost, count]
        link_stats = defaultdict(lambda: [0, 0])  # bytes, busy ps
        timeline = [] if self.record_timeline else None
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=len(steps), unit="step", delay=2.0, leave=False)
        t0 = 0
        records = timeline is not None
        for si, step in enumerate(steps):
            placement = [self.system.place(op) for op in step.ops]
            costs = [self._cost(d, op) for d, op in zip(placement, step.ops)]
            end, recs, transfers = simulate_step(step.ops, placement, costs, self.system,
                                                 records=records)
            durations[si] = end
            for d, op, c in zip(placement, step.ops, costs):
                key = (d, id(op))
                occ = occurrences.get(key)
                if occ is None:
                    occurrences[key] = [op, c, 1]
                else:
                    occ[2] += 1
            for tr in transfers:
                st = link_stats[tr.link.name]
                st[0] += tr.nbytes
                st[1] += tr.end_ps - tr.start_ps
            if records:
                timeline.append((si, step, t0, recs, transfers))
            t0 += end
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        time_kind = defaultdict(int)
        count_kind = defaultdict(int)
        actions = defaultdict(float)
        for (dev, _), (op, c, n) in occurrences.items():
            k = (dev, op.kind.value)
            time_kind[k] += c.duration_ps * n
            count_kind[k] += n
            for a, v in c.actions.items():
                actions[(dev, op.kind.value, a)] += v * n
        return RunResult(hw=self.hw, system=self.system, trace=trace, step_ps=durations,
                         time_by_kind=dict(time_kind), ops_by_kind=dict(count_kind),
                         actions=dict(actions),
                         link_stats={k: tuple(v) for k, v in link_stats.items()},
                         timeline=timeline, wall_s=time.perf_counter() - t_wall)
