"""The scheduler's per-op loop for one step, on int64 arrays (numba and a Python twin).

:func:`schedule_step` is written once as a plain Python function over numpy arrays and compiled
with ``numba.njit(cache=True)`` as :data:`schedule_step_nb`; the interpreter runs the same source
as :data:`schedule_step_py` (debuggable, and a check that the compiled code keeps Python's
integer semantics). It implements exactly the rules of :mod:`.scheduler` (see its docstring) for
a step compiled into a :class:`~.plan.StepPlan`; tests check it equals the Python
:class:`~.scheduler.Scheduler` and the SimPy oracle.

State kept across steps lives in arrays the caller owns: device and link free times, host
clocks and host waits of devices with a host stack, per-link bytes and busy time, and rings of the last ``K`` steps' op end times, output sizes and arrival
times of moved outputs (row ``step % K``; ``-1``: not moved yet).

A link's transfer time is ``latency + ceil(nbytes * 1e12 / bandwidth)`` in float64, the same
IEEE operations as :meth:`Link.transfer_ps`, so the numbers agree bit for bit.
"""
from __future__ import annotations

import math

from numba import njit

from ..numba_cache import install as _install_numba_cache

_install_numba_cache()  # compiled kernels are cached per user, never in the package

#: op kinds in :attr:`StepPlan.kind`
K_DEVICE, K_TRANSFER, K_COLLECTIVE = 0, 1, 2


def schedule_step(kind, dev, dur, in_ptr, in_back, in_op, in_slot, in_route,
                  rt_ptr, rt_link, mem_ptr, mem_dev, cl_ptr, cl_link, cl_bytes, cl_busy,
                  ends, nbytes, arrived, row, nrows, dev_free, link_free,
                  link_lat, link_bw, link_bytes, link_busy, link_seen, t_bar,
                  dispatch, host_free, host_wait):
    """Schedule one step; returns ``(first start or -1, last end or -1)``.

    Parameters
    ----------
    kind, dev, dur : int64 arrays, one entry per op
        Kind (``K_*``), device index (devices and transfers) and duration in ps.
    in_ptr, in_back, in_op, in_slot, in_route : int64 arrays
        Inputs of op ``i`` are ``in_ptr[i]:in_ptr[i + 1]``: steps back (0: this step), the
        producer's index, its arrival slot in the producer step's ``arrived`` row and the route
        that moves it (``-1``: used where it is, no move).
    rt_ptr, rt_link : int64 arrays
        Route ``r`` is the link indices ``rt_link[rt_ptr[r]:rt_ptr[r + 1]]``.
    mem_ptr, mem_dev, cl_ptr, cl_link, cl_bytes, cl_busy : int64 arrays
        Per op (empty unless a collective): member devices, and the links it holds with the
        bytes it moves and the time it keeps each busy.
    ends, nbytes, arrived : int64 arrays (nrows, width)
        Rings of op end times, output sizes and arrival times; this step is row ``row``.
    dev_free, link_free, link_bytes, link_busy : int64 arrays
        State updated in place.
    link_seen : int64 array (links + 1,)
        Order in which links were first used (-1: not yet); the last entry counts them.
    link_lat : int64 array
    link_bw : float64 array
        Bandwidth in bytes/s, 0 for a latency-only link.
    t_bar : int
        Earliest start of every op (the barrier time, or 0).
    dispatch, host_free, host_wait : int64 arrays, one entry per device
        Host time per issued op (0: no host stack), the host clocks and the time each device's
        queue waited for its host (state updated in place).
    """
    n = kind.shape[0]
    first = -1
    last = -1
    for i in range(n):
        k = kind[i]
        ready = t_bar
        for j in range(in_ptr[i], in_ptr[i + 1]):
            r = (row - in_back[j]) % nrows
            d = in_op[j]
            t = ends[r, d]
            route = in_route[j]
            if route >= 0:
                slot = in_slot[j]
                a = arrived[r, slot]
                if a >= 0:
                    t = a
                else:
                    nb = nbytes[r, d]
                    for h in range(rt_ptr[route], rt_ptr[route + 1]):
                        ln = rt_link[h]
                        s = link_free[ln]
                        if t > s:
                            s = t
                        e = s + link_lat[ln]
                        if link_bw[ln] > 0.0:
                            e += math.ceil(nb * 1e12 / link_bw[ln])
                        link_free[ln] = e
                        if link_seen[ln] < 0:
                            link_seen[ln] = link_seen[-1]
                            link_seen[-1] += 1
                        link_bytes[ln] += nb
                        link_busy[ln] += e - s
                        t = e
                    arrived[r, slot] = t
            if t > ready:
                ready = t
        if k == K_COLLECTIVE:
            s = ready
            for m in range(mem_ptr[i], mem_ptr[i + 1]):
                md = mem_dev[m]
                f = dev_free[md]
                if f < ready:
                    f = ready
                if dispatch[md] > 0:
                    h = host_free[md]
                    if t_bar > h:
                        h = t_bar
                    h += dispatch[md]
                    host_free[md] = h
                    if h > f:
                        host_wait[md] += h - f
                        f = h
                if f > s:
                    s = f
            for m in range(cl_ptr[i], cl_ptr[i + 1]):
                f = link_free[cl_link[m]]
                if f > s:
                    s = f
            e = s + dur[i]
            for m in range(mem_ptr[i], mem_ptr[i + 1]):
                dev_free[mem_dev[m]] = e
            for m in range(cl_ptr[i], cl_ptr[i + 1]):
                ln = cl_link[m]
                link_free[ln] = e
                if link_seen[ln] < 0:
                    link_seen[ln] = link_seen[-1]
                    link_seen[-1] += 1
                link_bytes[ln] += cl_bytes[m]
                link_busy[ln] += cl_busy[m]
        elif k == K_TRANSFER:
            s = ready
            e = ready
        else:
            di = dev[i]
            s = dev_free[di]
            if ready > s:
                s = ready
            if dispatch[di] > 0:
                h = host_free[di]
                if t_bar > h:
                    h = t_bar
                h += dispatch[di]
                host_free[di] = h
                if h > s:
                    host_wait[di] += h - s
                    s = h
            e = s + dur[i]
            dev_free[di] = e
        ends[row, i] = e
        if first < 0 or s < first:
            first = s
        if e > last:
            last = e
    return first, last


schedule_step_py = schedule_step
schedule_step_nb = njit(cache=True, nogil=True)(schedule_step)
