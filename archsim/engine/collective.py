"""Collective ops priced over the link topology with the ring algorithm (alpha-beta).

A collective over ``n`` members moves its buffer in ``steps(n)`` rounds; in each round every
member sends a chunk of ``fraction(n)`` of the buffer to the next member of the ring (members in
the order the op names them), over the fastest route between them. One round takes the longest
route latency (alpha) plus the time the busiest link needs for all the chunks crossing it in that
round (beta: ``ceil(load / bandwidth)``). Per Thakur, Rabenseifner and Gropp, "Optimization of
collective communication operations in MPICH" (IJHPCA 2005), and NCCL's ring: all-reduce is a
reduce-scatter plus an all-gather, ``2 (n - 1)`` rounds of ``B / n``; all-gather and
reduce-scatter ``n - 1`` rounds of ``B / n``; send/recv one transfer of ``B`` from the first
member to the second.

With ``algorithm: tree`` (a design point's ``collective:`` section) an all-reduce runs as a
binary tree instead, the form NCCL uses for latency-bound sizes: the buffer is reduced up the
tree (member ``i``'s parent is member ``(i - 1) // 2``) and broadcast back down, pipelined, so it
takes ``2 ceil(log2 n)`` hop latencies plus the busiest link's serialisation of everything it
carries. Other collectives use the ring, as NCCL does. Every collective also pays the
design point's ``launch_latency`` (NCCL's base latency per collective, ``tuning.cc``).

The buffer is ``op.shape["elements"]`` values of ``op.dtype`` per member (the all-reduce input,
the all-gather output, the reduce-scatter input). The kind is ``op.attrs["collective"]``. The
reduction arithmetic is not priced (a few FLOPs per byte moved). Tree algorithms, per-link
efficiency and protocol overheads are not modelled here.
"""
from __future__ import annotations

from ..dtypes import nbytes
from ..errors import SimulationError

#: collective -> (rounds for n members, the buffer is cut into this many chunks for n members,
#: whether only the first member sends)
ALGORITHMS = {
    "all_reduce": (lambda n: 2 * (n - 1), lambda n: n, False),
    "all_gather": (lambda n: n - 1, lambda n: n, False),
    "reduce_scatter": (lambda n: n - 1, lambda n: n, False),
    "send_recv": (lambda n: 1, lambda n: 1, True),
}


def collective_cost(system, op, members: tuple) -> tuple:
    """``(duration_ps, {link name: bytes}, {link name: busy ps})`` of ``op`` (module docstring)."""
    cfg = system.hw.collective
    launch = int(round(cfg.launch_latency_s * 1e12))
    if cfg.algorithm == "tree" and op.attrs.get("collective") == "all_reduce" and len(members) > 2:
        d, moved, busy = tree_all_reduce(system, op, members)
    else:
        d, moved, busy = ring_cost(system, op, members)
    return launch + d, moved, busy


def tree_all_reduce(system, op, members: tuple) -> tuple:
    """Binary-tree all-reduce: up and down the tree, pipelined (module docstring)."""
    buffer = _buffer(op)
    n = len(members)
    edges = [(members[i], members[(i - 1) // 2]) for i in range(1, n)]
    load, links, alpha = {}, {}, 0
    for child, parent in edges:
        for a, b in ((child, parent), (parent, child)):       # reduce up, broadcast down
            route = system.route(a, b, buffer)
            alpha = max(alpha, sum(ln.latency_ps for ln in route))
            for ln in route:
                load[ln.name] = load.get(ln.name, 0) + buffer
                links[ln.name] = ln
    depth = (n - 1).bit_length()                               # ceil(log2 n) for n >= 2
    beta = max((links[k].serialise_ps(v) for k, v in load.items()), default=0)
    busy = {k: links[k].latency_ps + links[k].serialise_ps(v) for k, v in load.items()}
    return 2 * depth * alpha + beta, dict(load), busy


def _buffer(op) -> int:
    if "elements" not in op.shape:
        raise SimulationError(f"collective op {op.name!r} needs shape.elements (the buffer)")
    return nbytes(op.shape["elements"], op.dtype)


def ring_cost(system, op, members: tuple) -> tuple:
    """The ring algorithm's ``(duration_ps, {link: bytes}, {link: busy ps})``."""
    name = op.attrs.get("collective")
    algo = ALGORITHMS.get(name)
    if algo is None:
        raise SimulationError(f"collective op {op.name!r}: attrs.collective is {name!r}; "
                              f"expected one of {', '.join(ALGORITHMS)}")
    rounds_of, chunks_of, one_way = algo
    n = len(members)
    if one_way and n != 2:
        raise SimulationError(f"collective op {op.name!r}: send_recv needs exactly two members")
    buffer = _buffer(op)
    chunk = -(-buffer // chunks_of(n))
    pairs = [(members[0], members[1])] if one_way else \
        [(members[i], members[(i + 1) % n]) for i in range(n)]
    load: dict = {}
    alpha = 0
    links: dict = {}
    for a, b in pairs:
        route = system.route(a, b, chunk)
        alpha = max(alpha, sum(ln.latency_ps for ln in route))
        for ln in route:
            load[ln.name] = load.get(ln.name, 0) + chunk
            links[ln.name] = ln
    beta = max((links[k].serialise_ps(v) for k, v in load.items()), default=0)
    rounds = rounds_of(n)
    duration = rounds * (alpha + beta)
    moved = {k: v * rounds for k, v in load.items()}
    busy = {k: rounds * (links[k].latency_ps + links[k].serialise_ps(v)) for k, v in load.items()}
    return duration, moved, busy
