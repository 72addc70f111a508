"""Simulation of one step (one forward pass) on a :class:`System`.

Semantics (the model of execution every device kind shares):

- each device executes the ops placed on it **in trace order**, one at a time (an in-order
  queue, like a CUDA stream or a PIM command queue); an op starts when the device is free and
  all its dependencies are available on that device;
- a dependency produced on another device is moved over the link route (store-and-forward);
  so is one produced on the same device when that device has a host (results of a PIM device
  go out to its host and back, see :meth:`~archsim.devices.base.Device.host`);
  each link carries its transfers one at a time in the order the consumers appear in the trace;
  moving ``n`` bytes over a link takes ``latency + ceil(n / bandwidth)``; an output is moved to a
  given device once, however many ops there consume it;
- time is integer picoseconds.

:func:`simulate_step_events` is the reference: a SimPy process per device and per link.
:func:`simulate_step` computes the same schedule in one pass over the ops in trace order (each
queue is in order, so start = max(queue free, inputs ready)); tests check that both agree
exactly on random multi-device DAGs.
"""
from __future__ import annotations

from dataclasses import dataclass

import simpy


@dataclass(slots=True)
class OpRecord:
    op: object
    device: str
    start_ps: int
    end_ps: int
    cost: object


@dataclass(slots=True)
class TransferRecord:
    link: object
    nbytes: int
    start_ps: int
    end_ps: int
    op_name: str


def plan_transfers(ops, placement, system):
    """Transfers in program order: ``(producer index, destination device)`` per consumer."""
    plan = []
    seen = set()
    for i, op in enumerate(ops):
        dev = placement[i]
        for d in op.deps:
            if system.needs_move(placement[d], dev) and (d, dev) not in seen:
                seen.add((d, dev))
                plan.append((d, dev))
    return plan


def simulate_step(ops, placement, costs, system, *, records: bool = True):
    """Simulate one step starting at time 0 (one pass, see module docstring).

    Returns ``(end_ps, [OpRecord], [TransferRecord])``; with ``records=False`` the op records are
    not built (``None``) and transfers are left in issue order, which is all the aggregate
    statistics need.
    """
    n = len(ops)
    recs = [None] * n
    end = [0] * n
    dev_free: dict = {}
    if len(set(placement)) <= 1 and (not placement or not system.needs_move(placement[0],
                                                                             placement[0])):
        # one in-order queue: a running sum
        if not records:
            return sum(c.duration_ps for c in costs), None, []
        t = 0
        dev = placement[0] if placement else ""
        for i in range(n):
            c = costs[i]
            recs[i] = OpRecord(ops[i], dev, t, t + c.duration_ps, c)
            t += c.duration_ps
        return t, recs, []
    link_free: dict = {}
    arrived: dict = {}
    transfers = []
    needs_move = system.needs_move
    route = system.route
    for i in range(n):
        op, dev, c = ops[i], placement[i], costs[i]
        ready = 0
        for d in op.deps:
            src = placement[d]
            if src != dev or needs_move(src, dev):
                t = arrived.get((d, dev))
                if t is None:
                    t = end[d]
                    nbytes = ops[d].bytes_written
                    for link in route(src, dev):
                        s = max(t, link_free.get(link.name, 0))
                        t = s + link.transfer_ps(nbytes)
                        link_free[link.name] = t
                        transfers.append(TransferRecord(link, nbytes, s, t, ops[d].name))
                    arrived[(d, dev)] = t
            else:
                t = end[d]
            if t > ready:
                ready = t
        s = dev_free.get(dev, 0)
        if ready > s:
            s = ready
        e = s + c.duration_ps
        dev_free[dev] = e
        end[i] = e
        if records:
            recs[i] = OpRecord(op, dev, s, e, c)
    finish = max(end) if n else 0
    if not records:
        return finish, None, transfers
    transfers.sort(key=lambda r: (r.start_ps, r.link.name))
    return finish, recs, transfers


def simulate_step_events(ops, placement, costs, system):
    """The reference SimPy simulation of the same semantics (slower; used in tests)."""
    env = simpy.Environment()
    n = len(ops)
    done = [env.event() for _ in range(n)]
    recs = [None] * n
    transfers: list = []
    arrived: dict = {}
    link_queues: dict = {}
    for d, dev in plan_transfers(ops, placement, system):
        prev = done[d]
        for link in system.route(placement[d], dev):
            hop_done = env.event()
            link_queues.setdefault(link.name, []).append((link, prev, hop_done, d))
            prev = hop_done
        arrived[(d, dev)] = prev

    def link_proc(queue):
        for link, inp, out, d in queue:
            yield inp
            start = env.now
            yield env.timeout(link.transfer_ps(ops[d].bytes_written))
            transfers.append(TransferRecord(link, ops[d].bytes_written, start, env.now,
                                            ops[d].name))
            out.succeed()

    def dev_proc(dev, idx):
        for i in idx:
            waits = [arrived[(d, dev)] if system.needs_move(placement[d], dev) else done[d]
                     for d in ops[i].deps]
            if waits:
                yield env.all_of(waits)
            start = env.now
            yield env.timeout(costs[i].duration_ps)
            recs[i] = OpRecord(ops[i], dev, start, env.now, costs[i])
            done[i].succeed()

    per_dev: dict = {}
    for i, dev in enumerate(placement):
        per_dev.setdefault(dev, []).append(i)
    for dev, idx in per_dev.items():
        env.process(dev_proc(dev, idx))
    for q in link_queues.values():
        env.process(link_proc(q))
    env.run()
    if any(r is None for r in recs):
        raise RuntimeError("deadlock: some ops never ran")
    transfers.sort(key=lambda r: (r.start_ps, r.link.name))
    return max((r.end_ps for r in recs), default=0), recs, transfers
