"""A request stream decoded and split by channel in one compiled pass, for the controllers.

:func:`archsim.dram.mapping.decode` gives each address's level indices with numpy (one array
pass per level, plus temporaries), and a stable sort by channel followed by seven gathers per
channel split them for the per-channel controllers: measured, that took about a third of
:func:`archsim.dram.simulate`'s time on streams. :func:`split_requests` does the same in two
compiled passes (a stable counting sort by channel): the fields are those of ``decode`` (tests
compare them), laid out per channel, contiguous.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..numba_cache import install as _install_numba_cache
from .mapping import level_counts, parse_mapping

_install_numba_cache()

#: the decoded levels, in the order of :func:`level_shifts`
LEVELS = ("channel", "pseudo_channel", "rank", "bank_group", "bank", "row", "column")
#: rows of the split requests: arrival, is_write, then the controller's rank (the
#: pseudo-channel under shared buses), bank group, bank, row and column
COLS = ("arrival", "is_write", "rank", "bank_group", "bank", "row", "column")


def level_shifts(spec):
    """``(shift, mask)`` int64 arrays: level ``LEVELS[i]`` of byte address ``a`` is
    ``(a >> shift[i]) & mask[i]`` under ``spec.controller.mapping``."""
    counts = level_counts(spec.org)
    pos = int(spec.org.access_bytes).bit_length() - 1
    shift = {}
    for level in reversed(parse_mapping(spec.controller.mapping)):
        shift[level] = pos
        pos += counts[level].bit_length() - 1
    return (np.array([shift[lv] for lv in LEVELS], np.int64),
            np.array([counts[lv] - 1 for lv in LEVELS], np.int64))


@njit(cache=True, nogil=True)
def _split(addr, is_write, arrival, shift, mask, pcs, shared, cols, perm, bounds):
    n = addr.shape[0]
    nch = bounds.shape[0] - 1
    for i in range(n):
        a = addr[i]
        ch = (a >> shift[0]) & mask[0]
        c = ch if shared else ch * pcs + ((a >> shift[1]) & mask[1])
        bounds[c + 1] += 1
    for c in range(nch):
        bounds[c + 1] += bounds[c]
    nxt = bounds[:nch].copy()
    for i in range(n):
        a = addr[i]
        ch = (a >> shift[0]) & mask[0]
        pc = (a >> shift[1]) & mask[1]
        c = ch if shared else ch * pcs + pc
        d = nxt[c]
        nxt[c] = d + 1
        perm[d] = i
        cols[0, d] = arrival[i]
        cols[1, d] = is_write[i]
        cols[2, d] = pc if shared else (a >> shift[2]) & mask[2]
        cols[3, d] = (a >> shift[3]) & mask[3]
        cols[4, d] = (a >> shift[4]) & mask[4]
        cols[5, d] = (a >> shift[5]) & mask[5]
        cols[6, d] = (a >> shift[6]) & mask[6]


def split_requests(spec, addresses, is_write, arrival, shared: bool):
    """Requests split by controller, in arrival order within each.

    Parameters
    ----------
    spec : DramSpec
    addresses, is_write, arrival : int64 arrays
        Checked by the caller (addresses within the device, arrivals non-decreasing).
    shared : bool
        One controller per channel, its pseudo-channels in the place of ranks; otherwise one
        per (pseudo-)channel, numbered ``channel * pseudo_channels + pseudo_channel``.

    Returns
    -------
    cols : int64 array (7, n)
        Rows :data:`COLS`; controller ``c``'s requests are columns ``bounds[c]:bounds[c+1]``.
    perm : int64 array (n,)
        The input index of each column.
    bounds : int64 array (controllers + 1,)
    """
    n = len(addresses)
    pcs = spec.org.pseudo_channels
    nctl = spec.org.channels if shared else spec.n_channels
    shift, mask = level_shifts(spec)
    cols = np.empty((len(COLS), n), np.int64)
    perm = np.empty(n, np.int64)
    bounds = np.zeros(nctl + 1, np.int64)
    _split(addresses, is_write, arrival, shift, mask, pcs, bool(shared), cols, perm, bounds)
    return cols, perm, bounds
