"""The one-pass scheduler: devices, links and op completions kept across steps.

Semantics (the model of execution every device kind shares; :mod:`.events` is the SimPy
reference implementation of the same rules, and tests check both agree exactly on random
multi-device, multi-step DAGs):

- each device executes the ops assigned to it **in trace order** (steps in order, ops in order
  within a step), one at a time: an in-order queue, like a CUDA stream or a PIM command queue;
- an op starts when its device is free and every dependency is available on that device:
  ``Op.deps`` within the step, ``Op.prior`` on earlier steps; a step with ``barrier`` also waits
  until every op of every earlier step has finished (plain AR decoding);
- a dependency produced on another device is moved over the link route first
  (store-and-forward, :meth:`System.route`); so is one produced on the same device when that
  device has a host (a PIM device's results go out to its host and back). Each link carries its
  transfers one at a time, in the order their consumers appear in the trace; an output is moved
  to a given device once, however many ops there consume it;
- a ``transfer`` op marks the part of its dependency's output that crosses to its consumers
  (its ``bytes_written``): it ends as soon as its inputs are on its device, takes no device
  time and does not wait in the device's queue;
- a ``collective`` op runs on all its member devices at once: it starts when every member is
  free, every link it uses is free and its dependencies have finished (wherever they ran: its
  own cost moves the data, :mod:`.collective`), and it holds members and links until it ends.
  Its output is on every member;
- a device with a host software stack (:meth:`Device.dispatch_ps` > 0: eager PyTorch on a
  GPU) has a host clock kept across steps. The host issues the device's ops in trace order, each
  issue taking ``dispatch``, and runs ahead of the device: ``issue_end = max(host clock,
  barrier) + dispatch``; the op starts no earlier than ``issue_end``; the host clock becomes
  ``issue_end``. In a step with ``barrier`` the host first waits for the barrier time (the
  sampled token read back, ``.item()``). A collective waits for every member's host to issue it.
  The time a device's queue was ready (device free, inputs there) while its host had not yet
  issued the op is the device's *host wait*;
- time is integer picoseconds.

Each queue is in order, so one pass over the ops in trace order computes the schedule:
start = max(queue free, inputs ready).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..trace.schema import OpKind

TRANSFER = OpKind.TRANSFER


@dataclass(slots=True)
class OpRecord:
    op: object
    device: object          # a device name, or the member tuple of a collective
    start_ps: int
    end_ps: int
    cost: object
    host_wait_ps: int = 0   # how long the op's ready device waited for its host to issue it


@dataclass(slots=True)
class TransferRecord:
    link: object
    nbytes: int
    start_ps: int
    end_ps: int
    op_name: str


@dataclass(slots=True)
class StepSchedule:
    """Where one step landed: absolute start and end, and (if recorded) its records."""

    start_ps: int
    end_ps: int
    records: list | None
    transfers: list


class Scheduler:
    """Schedules steps one after another, keeping state across them.

    Parameters
    ----------
    system : System
    lookback : int
        How many steps back ``Op.prior`` may reach (the trace's largest ``steps back``).
    """

    def __init__(self, system, lookback: int = 0) -> None:
        self.system = system
        self.dev_free: dict = {}
        self.link_free: dict = {}
        self.dispatch = {name: d.dispatch_ps() for name, d in system.devices.items()
                         if d.dispatch_ps() > 0}
        self.host_free: dict = {}             # per device with a host stack: its host clock
        self.host_wait = dict.fromkeys(self.dispatch, 0)   # ps its queue waited for its host
        self.finish = 0                       # end of every op so far (the barrier time)
        self.step_index = -1
        keep = max(lookback, 0)
        self._ends = deque(maxlen=keep)        # per earlier step: op end times
        self._where = deque(maxlen=keep)       # per earlier step: op assignments
        self._arrived = deque(maxlen=keep)     # per earlier step: {(op id, device): time}
        self._ops = deque(maxlen=keep)         # per earlier step: its ops
        self._keep = keep

    def step(self, ops, assignment, costs, *, barrier: bool = True,
             records: bool = True) -> StepSchedule:
        """Schedule one step's ``ops`` (``assignment[i]``: a device, or a collective's member
        tuple; ``costs[i]``: an :class:`OpCost`)."""
        self.step_index += 1
        t_bar = self.finish if barrier else 0
        n = len(ops)
        if n and self._single_queue(ops, assignment):
            return self._running_sum(ops, assignment[0], costs, t_bar, records)
        end = [0] * n
        recs = [None] * n if records else None
        arrived: dict = {}
        transfers: list = []
        dev_free = self.dev_free
        dispatch = self.dispatch
        first_start = None
        for i in range(n):
            op, where, c = ops[i], assignment[i], costs[i]
            collective = type(where) is tuple
            ready = t_bar
            for d in op.deps:
                t = end[d] if collective else \
                    self._arrival(arrived, ops[d], assignment[d], end[d], d, where, transfers)
                if t > ready:
                    ready = t
            for back, d in op.prior:
                ends, places, arr = self._ends[-back], self._where[-back], self._arrived[-back]
                t = ends[d] if collective else \
                    self._arrival(arr, None, places[d], ends[d], d, where, transfers, back)
                if t > ready:
                    ready = t
            waited = 0
            if collective:
                s, e, waited = self._collective(op, where, c, ready, transfers, t_bar)
            elif op.kind is TRANSFER:
                s = e = ready                # a view of its input: no device time, no queue
            else:
                s = dev_free.get(where, 0)
                if ready > s:
                    s = ready
                if where in dispatch:
                    issued = self._issue(where, t_bar, s)
                    waited, s = issued - s, issued
                e = s + c.duration_ps
                dev_free[where] = e
            end[i] = e
            if first_start is None or s < first_start:
                first_start = s
            if records:
                recs[i] = OpRecord(op, where, s, e, c, waited)
        step_end = max(end) if n else self.finish
        start = t_bar if barrier else (self.finish if first_start is None else first_start)
        return self._close(ops, assignment, end, arrived, start,
                           step_end, recs, transfers)

    # ---- pieces ----------------------------------------------------------------------------
    def _single_queue(self, ops, assignment) -> bool:
        first = assignment[0]
        if type(first) is tuple or assignment.count(first) != len(assignment):
            return False
        if self.system.needs_move(first, first) or first in self.dispatch:
            return False
        if self._keep and any(op.prior for op in ops):
            return False
        return not any(op.kind is TRANSFER for op in ops)

    def _running_sum(self, ops, dev, costs, t_bar, records) -> StepSchedule:
        """One in-order queue and no transfers: the ops run back to back."""
        t = max(t_bar, self.dev_free.get(dev, 0))
        start = t
        if records or self._keep:
            end = [0] * len(ops)
            recs = [None] * len(ops) if records else None
            for i, c in enumerate(costs):
                e = t + c.duration_ps
                if records:
                    recs[i] = OpRecord(ops[i], dev, t, e, c)
                end[i] = t = e
        else:
            end, recs = None, None
            t += sum(c.duration_ps for c in costs)
        self.dev_free[dev] = t
        return self._close(ops, [dev] * len(ops) if self._keep else None, end, {}, start, t,
                           recs, [])

    def _close(self, ops, assignment, end, arrived, start, step_end, recs, transfers):
        if self._keep:
            self._ops.append(ops)
            self._ends.append(end)
            self._where.append(assignment)
            self._arrived.append(arrived)
        if step_end > self.finish:
            self.finish = step_end
        if recs is not None:
            transfers.sort(key=lambda r: (r.start_ps, r.link.name))
        return StepSchedule(start, step_end, recs, transfers)

    def _arrival(self, arrived, producer, src, t_end, d, dev, transfers, back=0):
        """When the output of op ``d`` (on ``src``, finished at ``t_end``) is on ``dev``."""
        if type(src) is tuple:              # a collective's output is on every member
            if dev in src:
                return t_end
            src = src[0]
        if src == dev and not self.system.needs_move(src, dev):
            return t_end
        key = (d, dev)
        t = arrived.get(key)
        if t is not None:
            return t
        if producer is None:   # an op of an earlier step: find it for its size and name
            producer = self._prior_op(back, d)
        nbytes = producer.bytes_written
        t = t_end
        link_free = self.link_free
        for link in self.system.route(src, dev, nbytes):
            s = link_free.get(link.name, 0)
            if t > s:
                s = t
            t = s + link.transfer_ps(nbytes)
            link_free[link.name] = t
            transfers.append(TransferRecord(link, nbytes, s, t, producer.name))
        arrived[key] = t
        return t

    def _issue(self, dev, t_bar, s) -> int:
        """The host of ``dev`` issues its next op; returns the op's start given that it could
        start at ``s`` otherwise (and counts the wait)."""
        h = self.host_free.get(dev, 0)
        if t_bar > h:
            h = t_bar
        h += self.dispatch[dev]
        self.host_free[dev] = h
        if h > s:
            self.host_wait[dev] += h - s
            return h
        return s

    def _prior_op(self, back, d):
        return self._ops[-back][d]

    def _collective(self, op, members, cost, ready, transfers, t_bar=0) -> tuple:
        """Schedule a collective; returns ``(start, end, longest wait of a member for its host)``."""
        _, moved, busy = self.system.collective(op, members)
        s = ready
        waited = 0
        for m in members:
            f = self.dev_free.get(m, 0)
            if f < ready:
                f = ready
            if m in self.dispatch:
                issued = self._issue(m, t_bar, f)
                waited, f = max(waited, issued - f), issued
            if f > s:
                s = f
        for name in moved:
            f = self.link_free.get(name, 0)
            if f > s:
                s = f
        e = s + cost.duration_ps
        for m in members:
            self.dev_free[m] = e
        links = self.system.link_by_name
        for name, nbytes in moved.items():
            self.link_free[name] = e
            transfers.append(TransferRecord(links[name], nbytes, s, s + busy[name], op.name))
        return s, e, waited
