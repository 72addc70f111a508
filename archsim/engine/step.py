"""Event-driven simulation of one step (one forward pass) on a :class:`System`.

Each op waits for its dependencies, then holds its device for its duration; a dependency produced
on another device is first moved there over the link route (store-and-forward, each link busy for
the transfer). Devices and links are SimPy resources of capacity one, so ops on different
devices overlap and transfers contend for links. Time is integer picoseconds.

When every op of a step runs on one device, the step is a chain on one FIFO resource and its
timing is the running sum of op durations; :func:`simulate_step` then skips SimPy. Tests check
that both paths give identical timelines.
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


def simulate_step(ops, placement, costs, system, *, force_events: bool = False):
    """Simulate one step starting at time 0.

    Parameters
    ----------
    ops : sequence of Op (topologically ordered)
    placement : list of str, the device of each op
    costs : list of OpCost, the cost of each op on its device
    system : System, for link routes
    force_events : bool, use SimPy even for single-device steps (for testing)

    Returns
    -------
    (end_ps, list of OpRecord, list of TransferRecord)
    """
    if not force_events and len(set(placement)) == 1:
        t = 0
        recs = []
        dev = placement[0] if placement else ""
        for op, c in zip(ops, costs):
            recs.append(OpRecord(op, dev, t, t + c.duration_ps, c))
            t += c.duration_ps
        return t, recs, []
    return _simulate_events(ops, placement, costs, system)


def _simulate_events(ops, placement, costs, system):
    env = simpy.Environment()
    dev_res = {d: simpy.Resource(env, capacity=1) for d in set(placement)}
    link_res: dict = {}
    done = [env.event() for _ in ops]
    recs = [None] * len(ops)
    transfers: list = []
    moved: dict = {}

    def transfer(src_i, dst_dev):
        yield done[src_i]
        nbytes = ops[src_i].bytes_written
        for link in system.route(placement[src_i], dst_dev):
            res = link_res.get(link.name)
            if res is None:
                res = link_res[link.name] = simpy.Resource(env, capacity=1)
            with res.request() as req:
                yield req
                start = env.now
                yield env.timeout(link.transfer_ps(nbytes))
                transfers.append(TransferRecord(link, nbytes, start, env.now, ops[src_i].name))

    def arrival(src_i, dst_dev):
        key = (src_i, dst_dev)
        ev = moved.get(key)
        if ev is None:
            ev = moved[key] = env.process(transfer(src_i, dst_dev))
        return ev

    def run(i):
        op, dev = ops[i], placement[i]
        waits = [done[d] if placement[d] == dev else arrival(d, dev) for d in op.deps]
        if waits:
            yield env.all_of(waits)
        with dev_res[dev].request() as req:
            yield req
            start = env.now
            yield env.timeout(costs[i].duration_ps)
        recs[i] = OpRecord(op, dev, start, env.now, costs[i])
        done[i].succeed()

    for i in range(len(ops)):
        env.process(run(i))
    env.run()
    if any(r is None for r in recs):
        raise RuntimeError("deadlock: some ops never ran (dependency cycle?)")
    transfers.sort(key=lambda r: (r.start_ps, r.link.name))
    return env.now, recs, transfers
