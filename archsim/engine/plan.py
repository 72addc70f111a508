"""A step compiled for :mod:`.kernel`: assignments, dependencies, moves and routes as arrays.

A :class:`StepPlan` holds everything about a step that stays put from one decode step to the
next: each op's kind and device, its inputs (which need moving and over which links), and each
collective's members and links. Only op durations and output sizes change (the attention ops
of a new context length); :class:`~.fast.FastScheduler` updates those in place and reuses the
plan while the step's structure (op names, kinds, dependencies, pins, hence assignments) and the
routes it took stay the same.

Arrival slots (where a moved output's arrival time is kept) are numbered globally by
``(producer index, destination device)``, so a step's ``Op.prior`` inputs find the moves an
earlier step already made of the same output, whatever plan that step ran.
"""
from __future__ import annotations

import itertools

import networkx as nx
import numpy as np

from ..trace.schema import OpKind
from .kernel import K_COLLECTIVE, K_DEVICE, K_TRANSFER

_I64 = np.int64


class Network:
    """Index tables of a :class:`System` shared by every plan: devices, links, arrival slots.

    Parameters
    ----------
    system : System
    """

    def __init__(self, system) -> None:
        self.system = system
        self.dev_index = {name: i for i, name in enumerate(system.devices)}
        links = system.links
        self.link_index = {ln.name: i for i, ln in enumerate(links)}
        self.link_lat = np.array([ln.latency_ps for ln in links], dtype=_I64)
        self.link_bw = np.array([ln.bandwidth_bytes_per_s or 0.0 for ln in links],
                                dtype=np.float64)
        self.dispatch = np.array([d.dispatch_ps() for d in system.devices.values()], dtype=_I64)
        self.slots: dict = {}          # (producer index, destination device index) -> slot
        self._fixed: dict = {}         # (src, dst) -> whether the route ignores the size
        self._routes: dict = {}        # (src, dst, nbytes) -> link indices

    def slot(self, d: int, dst: int) -> int:
        return self.slots.setdefault((d, dst), len(self.slots))

    def route(self, src: str, dst: str, nbytes: int) -> tuple:
        """Link indices of the route :meth:`System.route` takes for ``nbytes``."""
        key = (src, dst, nbytes)
        hit = self._routes.get(key)
        if hit is None:
            index = self.link_index
            hit = self._routes[key] = tuple(index[ln.name]
                                            for ln in self.system.route(src, dst, nbytes))
        return hit

    def size_free(self, src: str, dst: str) -> bool:
        """Whether the route from ``src`` to ``dst`` is the same for every size (one simple
        path; from a device to itself, one each way to and from its host)."""
        key = (src, dst)
        hit = self._fixed.get(key)
        if hit is None:
            if src == dst:
                host = self.system.devices[src].host()
                hit = host is None or (self.size_free(src, host) and self.size_free(host, src))
            else:
                paths = nx.all_simple_paths(self.system.graph, src, dst)
                hit = len(list(itertools.islice(paths, 2))) == 1
            self._fixed[key] = hit
        return hit


class StepPlan:
    """One step's structure as int64 arrays for :func:`~.kernel.schedule_step`.

    Parameters
    ----------
    net : Network
    ops : sequence of Op
    where : list
        Assignments (a device name, or a collective's member tuple).
    costs : list of OpCost
    history : sequence of (ops, where)
        The earlier steps ``Op.prior`` reaches, most recent last.

    Attributes
    ----------
    moves_from : dict
        Op index -> ``[(route index, src, dst)]`` of its moves whose route depends on its size.
    prior_moves : list
        ``(back, d, src, dst, route index, size-dependent)`` of every moved ``Op.prior`` input.
    prior_where : list
        ``(back, d, assignment)`` every prior input was compiled against.
    """

    def __init__(self, net, ops, where, costs, history) -> None:
        system = net.system
        n = len(ops)
        self.n = n
        self.where = list(where)
        dev_index = net.dev_index
        kind = np.zeros(n, dtype=_I64)
        dev = np.full(n, -1, dtype=_I64)
        self.dur = np.array([c.duration_ps for c in costs], dtype=_I64)
        self.nbytes = np.array([op.bytes_written for op in ops], dtype=_I64)
        in_ptr, in_back, in_op, in_slot, in_route = [0], [], [], [], []
        mem_ptr, mem_dev, cl_ptr, cl_link, cl_bytes, cl_busy = [0], [], [0], [], [], []
        routes: dict = {}
        self.coll = [None] * n
        self.moves_from: dict = {}
        self.prior_moves: list = []
        self.prior_where: list = []

        def move(back, d, src, dst, nb):
            """(slot, route) of moving the output of op ``d`` (``back`` steps ago) to ``dst``."""
            if type(src) is tuple:
                if dst in src:
                    return -1, -1
                src = src[0]
            if not system.needs_move(src, dst):
                return -1, -1
            links = net.route(src, dst, nb)
            r = routes.setdefault(links, len(routes))
            sized = not net.size_free(src, dst)
            if back == 0:
                if sized:
                    self.moves_from.setdefault(d, []).append((r, src, dst))
            else:
                self.prior_moves.append((back, d, src, dst, r, sized))
            return net.slot(d, dev_index[dst]), r

        for i, op in enumerate(ops):
            w = where[i]
            collective = type(w) is tuple
            if collective:
                kind[i] = K_COLLECTIVE
                hit = self.coll[i] = system.collective(op, w)
                _, moved, busy = hit
                mem_dev.extend(dev_index[m] for m in w)
                for name, nb in moved.items():
                    cl_link.append(net.link_index[name])
                    cl_bytes.append(nb)
                    cl_busy.append(busy[name])
            else:
                kind[i] = K_TRANSFER if op.kind is OpKind.TRANSFER else K_DEVICE
                dev[i] = dev_index[w]
            mem_ptr.append(len(mem_dev))
            cl_ptr.append(len(cl_link))
            inputs = [(0, d, where[d], ops[d].bytes_written) for d in op.deps]
            for back, d in op.prior:
                p_ops, p_where = history[-back]
                inputs.append((back, d, p_where[d], p_ops[d].bytes_written))
                self.prior_where.append((back, d, p_where[d]))
            for back, d, src, nb in inputs:
                slot, r = (-1, -1) if collective else move(back, d, src, w, nb)
                in_back.append(back)
                in_op.append(d)
                in_slot.append(slot)
                in_route.append(r)
            in_ptr.append(len(in_back))
        self.routes = list(routes)
        self.coll_at = {i for i, c in enumerate(self.coll) if c is not None}
        rt_ptr = np.zeros(len(self.routes) + 1, dtype=_I64)
        rt_ptr[1:] = np.cumsum([len(r) for r in self.routes])
        rt_link = [h for r in self.routes for h in r]
        a = lambda v: np.array(v, dtype=_I64)   # noqa: E731
        self.arrays = (kind, dev, self.dur, a(in_ptr), a(in_back), a(in_op), a(in_slot),
                       a(in_route), rt_ptr, a(rt_link), a(mem_ptr), a(mem_dev), a(cl_ptr),
                       a(cl_link), a(cl_bytes), a(cl_busy))
