"""The reference implementation of the engine's semantics: a SimPy process per device, per link
and per collective, over a whole trace at once.

It implements the rules stated in :mod:`.scheduler` literally (queues, events, waits) and is
slow; it exists so that tests can check the one-pass :class:`~.scheduler.Scheduler` against it,
exactly, on random multi-device, multi-step DAGs with cross-step dependencies, barriers, hosts,
switches, collectives and host software stacks (a host process per device with
:meth:`Device.dispatch_ps` > 0 issues its ops in order; the device's process waits for each
issue).
"""
from __future__ import annotations

import simpy

from ..trace.schema import OpKind
from .scheduler import OpRecord, TransferRecord


def simulate_events(steps, assignments, costs, system, host_wait=None):
    """Simulate every step of ``steps`` (each with ``ops`` and ``barrier``).

    ``assignments[s][i]`` and ``costs[s][i]`` are those of op ``i`` of step ``s``. Returns
    ``(spans, records, transfers)``: per step ``(start_ps, end_ps)`` as :class:`StepSchedule`
    defines them, per step the :class:`OpRecord` list (absolute times), and every transfer.
    ``host_wait``, a dict if given, receives per device with a host stack the time its queue
    waited for its host.
    """
    env = simpy.Environment()
    done = [[env.event() for _ in s.ops] for s in steps]
    recs = [[None] * len(s.ops) for s in steps]
    transfers: list = []
    arrived: dict = {}
    link_queues: dict = {}
    member_ready: dict = {}
    link_ready: dict = {}
    coll_done: dict = {}
    op_wait: dict = {}       # collective -> longest wait of a member for its host

    def loc(si, d):
        return assignments[si][d]

    def inputs(si, op):
        """(step, op id) of every dependency, same-step first, in the order the scheduler
        visits them."""
        return [(si, d) for d in op.deps] + [(si - back, d) for back, d in op.prior]

    # transfers and collective link slots, in the order of their consumers in the trace
    for si, step in enumerate(steps):
        for i, op in enumerate(step.ops):
            where = loc(si, i)
            if type(where) is tuple:
                _, moved, busy = system.collective(op, where)
                member_ready[(si, i)] = [env.event() for _ in where]
                link_ready[(si, i)] = []
                for name in moved:
                    ev = env.event()
                    link_ready[(si, i)].append(ev)
                    link_queues.setdefault(name, []).append(("coll", (si, i), ev))
                continue
            for sj, d in inputs(si, op):
                src = loc(sj, d)
                if type(src) is tuple:
                    if where in src:
                        continue
                    src = src[0]
                if src == where and not system.needs_move(src, where):
                    continue
                key = (sj, d, where)
                if key in arrived:
                    continue
                prev = done[sj][d]
                producer = steps[sj].ops[d]
                for link in system.route(src, where, producer.bytes_written):
                    hop = env.event()
                    link_queues.setdefault(link.name, []).append(
                        ("xfer", (link, prev, hop, producer), None))
                    prev = hop
                arrived[key] = prev

    def link_proc(queue):
        for kind, item, ev in queue:
            if kind == "coll":
                ev.succeed()
                yield coll_done[item]
                continue
            link, inp, out, producer = item
            yield inp
            start = env.now
            yield env.timeout(link.transfer_ps(producer.bytes_written))
            transfers.append(TransferRecord(link, producer.bytes_written, start, env.now,
                                            producer.name))
            out.succeed()

    barrier_evt = []
    for si, step in enumerate(steps):
        prev = [barrier_evt[-1]] if barrier_evt else []
        barrier_evt.append(env.all_of(prev + done[si - 1]) if si else env.all_of([]))

    def waits_of(si, op, where):
        w = [barrier_evt[si]] if steps[si].barrier else []
        for sj, d in inputs(si, op):
            if type(where) is tuple:
                w.append(done[sj][d])
                continue
            key = (sj, d, where)
            w.append(arrived[key] if key in arrived else done[sj][d])
        return w

    def transfer_proc(si, i):
        op = steps[si].ops[i]
        w = waits_of(si, op, loc(si, i))
        if w:
            yield env.all_of(w)
        recs[si][i] = OpRecord(op, loc(si, i), env.now, env.now, costs[si][i])
        done[si][i].succeed()

    def host_proc(dev, entries, dispatch_ps):
        """The host thread of ``dev``: issues its ops in order, waiting for the barrier (the
        token read back) before the first issue of a step that has one."""
        for si, i in entries:
            if steps[si].barrier:
                yield barrier_evt[si]
            yield env.timeout(dispatch_ps)
            issued[(dev, si, i)].succeed()

    def dev_proc(dev, entries):
        for si, i in entries:
            op = steps[si].ops[i]
            where = loc(si, i)
            w = waits_of(si, op, where)
            if w:
                yield env.all_of(w)
            wait = 0
            if dev in hosted:
                t0 = env.now
                yield issued[(dev, si, i)]
                wait = env.now - t0
                waited[dev] += wait
            if type(where) is tuple:
                op_wait[(si, i)] = max(op_wait.get((si, i), 0), wait)
                member_ready[(si, i)][where.index(dev)].succeed()
                yield coll_done[(si, i)]
                continue
            start = env.now
            yield env.timeout(costs[si][i].duration_ps)
            recs[si][i] = OpRecord(op, dev, start, env.now, costs[si][i], wait)
            done[si][i].succeed()

    def coll_proc(si, i):
        op, members = steps[si].ops[i], loc(si, i)
        yield env.all_of(member_ready[(si, i)] + link_ready[(si, i)])
        start = env.now
        _, moved, busy = system.collective(op, members)
        yield env.timeout(costs[si][i].duration_ps)
        recs[si][i] = OpRecord(op, members, start, env.now, costs[si][i],
                               op_wait.get((si, i), 0))
        for name, nbytes in moved.items():
            transfers.append(TransferRecord(system.link_by_name[name], nbytes, start,
                                            start + busy[name], op.name))
        done[si][i].succeed()

    per_dev: dict = {}
    for si, step in enumerate(steps):
        for i in range(len(step.ops)):
            where = loc(si, i)
            if type(where) is tuple:
                coll_done[(si, i)] = done[si][i]
                env.process(coll_proc(si, i))
            elif step.ops[i].kind is OpKind.TRANSFER:
                env.process(transfer_proc(si, i))
                continue
            for dev in (where if type(where) is tuple else (where,)):
                per_dev.setdefault(dev, []).append((si, i))
    hosted = {dev: system.devices[dev].dispatch_ps() for dev in per_dev
              if system.devices[dev].dispatch_ps() > 0}
    waited = dict.fromkeys(hosted, 0)
    issued = {(dev, si, i): env.event() for dev in hosted for si, i in per_dev[dev]}
    for dev, entries in per_dev.items():
        env.process(dev_proc(dev, entries))
        if dev in hosted:
            env.process(host_proc(dev, entries, hosted[dev]))
    for q in link_queues.values():
        env.process(link_proc(q))
    env.run()
    if any(r is None for rs in recs for r in rs):
        raise RuntimeError("deadlock: some ops never ran")
    spans = []
    finish = 0
    for si, step in enumerate(steps):
        ends = [r.end_ps for r in recs[si]]
        end = max(ends) if ends else finish
        start = finish if step.barrier else min((r.start_ps for r in recs[si]), default=finish)
        spans.append((start, end))
        finish = max(finish, end)
    transfers.sort(key=lambda r: (r.start_ps, r.link.name))
    if host_wait is not None:
        host_wait.update(waited)
    return spans, recs, transfers
