"""Timing state shared by the kernels: earliest legal cycle, issue update, command log.

The DRAM controller (:mod:`archsim.dram.kernel`) and any in-order scheduler of a fixed command
stream (the PIM scheduler, :mod:`archsim.pim.kernel`) keep the same timing state and read the same
constraint arrays (:class:`~archsim.dram.constraints.ConstraintTables`, passed as the tuple ``tb``
of :meth:`~archsim.dram.constraints.ConstraintTables.arrays`):

* ``nx[node * nc + cmd]``: the next cycle at which command ``cmd`` may be issued to ``node``.
  Nodes are numbered globally: the channel (0), then the ranks, the bank groups and the banks
  (:func:`node_id`); a command at (rank, bank group, bank) touches one node per level.
* ``hist``/``hptr``: per (window rule, node), a ring of the last ``window`` issue cycles of the
  rule's preceding commands (rolling windows such as tFAW).

:func:`new_state` returns ``(nx, hist, hptr, nc, wmax, n_nodes, NR, NBG)``; the kernels pass
the arrays and sizes to the helpers one by one. The helpers are inlined into the kernels; a
kernel loop compiled with numba's reference counting pays an atomic increment and decrement per
array an inlined helper binds, per call, so hot loops are compiled without it (``nrt=False`` of
:func:`jit_twins`, on arrays their caller allocated).

Numba and the Python twin
-------------------------
Every kernel function is written once, in plain Python over int64 arrays. The interpreter runs
these functions as the Python twin; :func:`jit_twins` compiles copies of the same code objects
with ``numba.njit(cache=True)`` whose globals name the compiled helpers, so the compiled kernel
calls compiled helpers and the twin calls Python ones. Tests compare the command logs of both.

numba's own cache stamp covers a kernel's file only, not the helpers it inlines from *another*
module; archsim's locator (:mod:`archsim.numba_cache`) stamps each kernel with the sources of its
own subpackage and of ``archsim/dram``, so an edit of this module recompiles the DRAM and PIM
kernels that inline it. A ``NUMBA_CACHE_DIR`` set by the user bypasses that locator.
"""
from __future__ import annotations

import operator
import types

import numpy as np
from numba import njit

from ..numba_cache import install as _install_numba_cache

_install_numba_cache()  # compiled kernels are cached per user, never in the package

INF = 1 << 62
#: array indices known to be >= 0 are cast with ``U``: in the compiled kernels it is
#: ``np.uint64`` (numba then skips the negative-index wraparound, a shift, a mask and a load of
#: the array's length per access; see :data:`COMPILED`); in the Python twin a plain integer
#: conversion, which costs the interpreter far less than making a numpy scalar
U = operator.index
LOG_COLS = 8  # cycle, command, rank, bank group, bank, row, column, request (-1 for none)


def node_id(level, r, g, fb, NR, NBG):
    """Global node id at ``level`` (0 channel, 1 rank, 2 bank group, 3 bank) of a command at rank
    ``r``, bank group ``g`` and flat bank ``fb`` (``(r * NBG + g) * NBA + bank``): the channel is
    node 0, then come the ranks, the bank groups and the banks."""
    if level == 0:
        return 0
    if level == 1:
        return 1 + r
    if level == 2:
        return 1 + NR + r * NBG + g
    return 1 + NR + NR * NBG + fb


def new_state(NR, NBG, NBA, nc, w_lat, w_n):
    """Empty timing state for ``NR`` ranks of ``NBG x NBA`` banks and ``nc`` commands."""
    n_nodes = 1 + NR + NR * NBG + NR * NBG * NBA
    nwin = w_lat.shape[0]
    wmax = 1
    for w in range(nwin):
        if w_n[w] > wmax:
            wmax = w_n[w]
    nx = np.zeros(n_nodes * nc, np.int64)
    hist = np.full(nwin * n_nodes * wmax, -INF, np.int64)
    hptr = np.zeros(nwin * n_nodes, np.int64)
    return (nx, hist, hptr, nc, wmax, n_nodes, NR, NBG)


def earliest(cmd, r, g, fb, t0, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, w_level, w_next,
             w_lat):
    """Earliest cycle ``>= t0`` at which ``cmd`` may be issued at (``r``, ``g``, ``fb``): the max
    of the next-allowed cycles at the four levels and of the rolling windows."""
    t = t0
    v = nx[U(cmd)]
    if v > t:
        t = v
    v = nx[U((1 + r) * nc + cmd)]
    if v > t:
        t = v
    v = nx[U((1 + NR + r * NBG + g) * nc + cmd)]
    if v > t:
        t = v
    v = nx[U((1 + NR + NR * NBG + fb) * nc + cmd)]
    if v > t:
        t = v
    for w in range(w_lat.shape[0]):
        if w_next[U(w), U(cmd)] != 0:
            hi = w * n_nodes + node_id(w_level[U(w)], r, g, fb, NR, NBG)
            v = hist[U(hi * wmax + hptr[U(hi)])] + w_lat[U(w)]
            if v > t:
                t = v
    return t


def rank_bound(cmd, r, t0, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, w_level, w_next, w_lat):
    """The channel and rank part of :func:`earliest`: the max of ``t0``, the next-allowed cycles of
    ``cmd`` at the channel and at rank ``r``, and the rolling windows kept per channel or rank.
    The same for every bank of the rank, so a scheduler computes it once per scan and command;
    ``earliest(cmd, r, g, fb, t0, ...) == bank_bound(cmd, r, g, fb, rank_bound(cmd, r, t0, ...),
    ...)``."""
    t = t0
    v = nx[U(cmd)]
    if v > t:
        t = v
    v = nx[U((1 + r) * nc + cmd)]
    if v > t:
        t = v
    for w in range(w_lat.shape[0]):
        if w_level[U(w)] <= 1 and w_next[U(w), U(cmd)] != 0:
            hi = w * n_nodes + node_id(w_level[U(w)], r, 0, 0, NR, NBG)
            v = hist[U(hi * wmax + hptr[U(hi)])] + w_lat[U(w)]
            if v > t:
                t = v
    return t


def bank_bound(cmd, r, g, fb, t, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, w_level, w_next,
               w_lat):
    """The bank-group and bank part of :func:`earliest`, on top of ``t`` (from
    :func:`rank_bound`): the max of ``t``, the next-allowed cycles of ``cmd`` at bank group ``g``
    and bank ``fb``, and the rolling windows kept per bank group or bank."""
    v = nx[U((1 + NR + r * NBG + g) * nc + cmd)]
    if v > t:
        t = v
    v = nx[U((1 + NR + NR * NBG + fb) * nc + cmd)]
    if v > t:
        t = v
    for w in range(w_lat.shape[0]):
        if w_level[U(w)] >= 2 and w_next[U(w), U(cmd)] != 0:
            hi = w * n_nodes + node_id(w_level[U(w)], r, g, fb, NR, NBG)
            v = hist[U(hi * wmax + hptr[U(hi)])] + w_lat[U(w)]
            if v > t:
                t = v
    return t


def record(cmd, T, r, g, fb, nx, nc, NR, NBG, hist, hptr, wmax, n_nodes, c_ptr, c_level, c_next,
           c_lat, w_level, w_prev, w_lat, w_n):
    """Issue ``cmd`` at cycle ``T`` at (``r``, ``g``, ``fb``): raise the next-allowed cycles of
    every rule with ``cmd`` as preceding command and push ``T`` into its rolling windows."""
    n1 = (1 + r) * nc
    n2 = (1 + NR + r * NBG + g) * nc
    n3 = (1 + NR + NR * NBG + fb) * nc
    for j in range(c_ptr[U(cmd)], c_ptr[U(cmd + 1)]):
        lv = c_level[U(j)]
        # the node of the row's level, by selects (a tuple indexed at run time is a jump table)
        base = n3 if lv == 3 else (n2 if lv == 2 else (n1 if lv == 1 else 0))
        idx = U(base + c_next[U(j)])
        v = T + c_lat[U(j)]
        if v > nx[idx]:
            nx[idx] = v
    for w in range(w_lat.shape[0]):
        if w_prev[U(w), U(cmd)] != 0:
            hi = w * n_nodes + node_id(w_level[U(w)], r, g, fb, NR, NBG)
            p = hptr[U(hi)]
            hist[U(hi * wmax + p)] = T
            p += 1   # the ring's next slot (0 <= p < w_n[w]: no division)
            hptr[U(hi)] = p if p < w_n[U(w)] else 0


def log_command(log, cap, nlog, T, cmd, r, g, b, row, col, req):
    """Write entry ``nlog`` of the command log if it is below the capacity ``cap``; returns the
    new length (counted past the capacity too, so the caller can retry with a larger log)."""
    if nlog < cap:
        log[nlog, 0] = T
        log[nlog, 1] = cmd
        log[nlog, 2] = r
        log[nlog, 3] = g
        log[nlog, 4] = b
        log[nlog, 5] = row
        log[nlog, 6] = col
        log[nlog, 7] = req
    return nlog + 1


def jit_twins(namespace: dict, names, compiled: dict = None, *, inline: bool = True,
              nrt: bool = True) -> dict:
    """numba-compiled copies of the functions ``names`` of a module ``namespace``.

    Each copy shares its function's code object but resolves globals in one dictionary where
    every name of ``names`` (and of ``compiled``, helpers compiled elsewhere) is the compiled
    version; the originals stay plain Python (the twin). With ``inline``, numba inlines the
    parts into their callers (``inline="always"``). Without ``nrt``, numba compiles them without
    its reference counting (no atomic increment/decrement per array a part binds, but no
    allocation either): for hot loops over state allocated by their caller. Returns
    ``{name: compiled function}``.
    """
    g = dict(namespace)
    g.update(compiled or {})
    out = {}
    for name in names:
        fn = namespace[name]
        copy = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
        copy.__qualname__ = fn.__qualname__
        copy.__doc__ = fn.__doc__
        opts = {"inline": "always"} if inline else {}
        if not nrt:
            opts["_nrt"] = False
        g[name] = out[name] = njit(cache=True, nogil=True, **opts)(copy)
    return out


#: compiled helpers, for the kernels' :func:`jit_twins`; also the compiled meaning of ``U``
COMPILED = jit_twins(globals(), ("node_id", "new_state", "earliest", "rank_bound", "bank_bound",
                                 "record", "log_command"), {"U": np.uint64})
COMPILED["U"] = np.uint64
