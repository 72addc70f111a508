"""Attention scores with head concatenation: several heads per DRAM row, one ACTAB per row.

PIM-GPT (Wu, Wang, Lu, npj Unconventional Computing 2024) concatenates attention heads so that
they fill a DRAM row: one activation then serves several heads. This module is the command
stream of the score GEMVs ``s_h = K_h q_h`` of all heads of one query position under that
layout (the K cache is stored row-major, space reserved in advance for every token).

Layout (``E`` = elements per unit row = banks per unit x row size / element width; ``epa`` =
elements per access; ``d`` = head dim; ``Hkv`` KV heads, ``g`` query heads per KV head):

* **Slot**: one head's key of one token occupies ``slot = ceil(d / epa) x epa`` elements (padded
  to whole accesses, so each head starts on an access boundary).
* **Heads per row**: ``hpr = min(Hkv, E // slot)``. KV heads are split into ``G = ceil(Hkv / hpr)``
  head groups of ``hpr`` heads (the last one smaller). One DRAM row of a unit holds the keys of
  one token for the heads of one head group, side by side: ``[k_h0 | k_h1 | ...]``.
* **Tokens over channels and units**: token ``t`` goes to channel ``t mod C_ch``, unit
  ``(t div C_ch) mod U`` and, in that unit's bank, to row ``(t div (C_ch U)) x G + group``. A
  channel holds ``kv_len div C_ch`` tokens (+1 for the first ``kv_len mod C_ch`` channels), in
  ``ceil(tokens / U)`` token groups of ``U`` tokens (one per unit, same row index in every bank).
* **Global buffer rule**: the input slices of one head group (``hpr x g`` vectors of ``slot``
  elements, each query head's ``q`` at its KV head's column offset) are written once per head
  group (WRGB burst) when they fit in the buffer: ``hpr x g x slot x width <= global_buffer``.
  Otherwise each vector's slice is written right before its MACABs, in every row. (AiM-like
  2 KB buffer and 2 KB rows with ``g = 1``: the slices of a full row always fit.)

Command stream of one channel (head groups outer, token groups inner, so a head group's slices
stay in the buffer while its rows are swept)::

    for each head group:
        [WRGB x ceil(hpr g slot width / access)]            if the slices fit the buffer
        for each token group:
            ACTAB
            for each KV head of the group, for each of its g query heads:
                [WRGB x slot width / access]                  if they do not fit
                MACAB x slot / epa                             (the head's columns of the row)
                RDMAC x ceil(U x result_bytes / access)        (one score per unit = per token)
            PREA

With ``mapping.result_registers`` R > 1 the vectors of a row MAC into their own result
registers, R at a time, and the R vectors' RDMACs follow the last of their MACABs back to back
(one ``nMAC_RD`` wait per R vectors instead of one per vector); the counts are the same.

It is the in-order PIM stream of :mod:`archsim.pim.gemv`, scheduled by the same numba kernel
with the same timing rules (``PIM_RULES``) and refresh, so it is cycle-accurate to the same
degree, and its log is checked by :func:`archsim.dram.checker.check_log`. Useful MACs are
``Hkv g kv_len d``; the padding columns (``slot > d``) are MACed too (counted in ``mac``).

The context ``V^T p`` is not concatenated: V is stored column-major, so a DRAM row already holds
up to ``E`` tokens of one head dimension; with space reserved for ``E`` tokens (1024 for AiM rows
and bf16) a row is full with one head, and splitting it between heads would shorten each head's
token slot and add an RDMAC (``nMAC_RD``) per head per row. See ``docs/pim_gpt.md``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import ConfigError
from .gemv import GemvResult, make_result, resolve_call, run_stream, stream_arrays, streams_log
from .spec import DTYPE_BYTES, PimSpec

_MEMO: dict = {}


def clear_memo() -> None:
    """Forget memoized multi-head results."""
    _MEMO.clear()


@dataclass(frozen=True)
class HeadLayout:
    """Where the K cache of all heads sits (see the module docstring)."""

    slot: int                  # elements per head per token in a row (d padded to accesses)
    heads_per_row: int         # KV heads concatenated in one DRAM row
    groups: tuple              # KV heads in each head group (one DRAM row per token each)
    q_per_kv: int              # query vectors per KV head
    macs_per_vec: int          # MACABs per vector per row
    wrgb_per_vec: int          # WRGBs of one vector's slice
    resident: bool             # a head group's slices all fit in the global buffer
    rdmac: int                 # RDMACs per vector per row
    per_ch: tuple              # tokens per channel


def head_layout(pim: PimSpec, kv_len: int, head_dim: int, kv_heads: int, q_per_kv: int,
                dtype: str, channels: int) -> Optional[HeadLayout]:
    """The concatenated layout, or ``None`` when one head's slot does not fit a row or the
    buffer (then heads cannot share a row and the per-head GEMV applies)."""
    db = DTYPE_BYTES[dtype]
    ab = pim.org.access_bytes
    epa = ab // db
    row_elems = pim.banks_per_unit * int(pim.org.row_size_bytes) // db
    gb_elems = int(pim.config.global_buffer_bytes) // db
    slot = -(-head_dim // epa) * epa
    if slot > row_elems or slot > gb_elems:
        return None
    hpr = min(kv_heads, row_elems // slot)
    groups = tuple([hpr] * (kv_heads // hpr) + ([kv_heads % hpr] if kv_heads % hpr else []))
    resident = hpr * q_per_kv * slot <= gb_elems
    rdmac = -(-pim.units_per_channel * pim.config.mac.result_bytes // ab)
    per_ch = tuple(kv_len // channels + (1 if c < kv_len % channels else 0)
                   for c in range(channels))
    return HeadLayout(slot, hpr, groups, q_per_kv, slot // epa, slot * db // ab, resident,
                      rdmac, per_ch)


def head_stream(pim: PimSpec, lay: HeadLayout, tokens: int, dtype: str):
    """Command stream of one channel holding ``tokens`` tokens: (cmd, rank, bg, bank, row)."""
    U = pim.units_per_channel
    CMD = pim.command_set.id
    m = pim.config.mapping
    R = 1 if m is None else m.result_registers
    tgroups = -(-tokens // U)
    G = len(lay.groups)
    db = DTYPE_BYTES[dtype]
    ab = pim.org.access_bytes
    cmds, rows = [], []
    if tgroups == 0:   # a channel without tokens gets no query slices either
        return stream_arrays(cmds, rows)
    for gi, nh in enumerate(lay.groups):
        nvec = nh * lay.q_per_kv
        if lay.resident:
            n = -(-nvec * lay.slot * db // ab)
            cmds.append(np.full(n, CMD["WRGB"], np.int64))
            rows.append(np.full(n, -1, np.int64))
        macs = ([] if lay.resident else [CMD["WRGB"]] * lay.wrgb_per_vec) \
            + [CMD["MACAB"]] * lay.macs_per_vec
        body = []
        for v in range(0, nvec, R):   # R vectors MAC into their own registers, then are read
            n = min(R, nvec - v)
            body += macs * n + [CMD["RDMAC"]] * (lay.rdmac * n)
        block = np.array([CMD["ACTAB"]] + body + [CMD["PREA"]], np.int64)
        cmds.append(np.tile(block, tgroups))
        rows.append(np.repeat(np.arange(tgroups, dtype=np.int64) * G + gi, len(block)))
    return stream_arrays(cmds, rows)


def _prepare(pim, kv_len, head_dim, kv_heads, q_per_kv, dtype, channels):
    pim, dtype, nch = resolve_call(pim, dtype, channels)
    if min(kv_len, head_dim, kv_heads, q_per_kv) < 1:
        raise ConfigError("kv_len, head_dim, kv_heads and q_per_kv must be positive, got "
                          f"{kv_len}, {head_dim}, {kv_heads}, {q_per_kv}")
    lay = head_layout(pim, int(kv_len), int(head_dim), int(kv_heads), int(q_per_kv), dtype,
                      nch)
    return pim, dtype, nch, lay


def simulate_scores_concat(pim, kv_len: int, head_dim: int, kv_heads: int, q_per_kv: int = 1,
                           dtype: Optional[str] = None, *, channels: Optional[int] = None,
                           memo: bool = True, engine: str = "numba") -> Optional[GemvResult]:
    """Cycle-accurate scores of all ``kv_heads x q_per_kv`` query heads of one query position.

    Returns a :class:`~archsim.pim.gemv.GemvResult` with ``rows = kv_len x heads`` (one score
    per token and query head) and ``cols = head_dim``, or ``None`` when the heads cannot share
    a row (:func:`head_layout`). Memoized on (config, shape, dtype, channels); memoized and
    fresh results are identical.
    """
    pim, dtype, nch, lay = _prepare(pim, kv_len, head_dim, kv_heads, q_per_kv, dtype, channels)
    if lay is None:
        return None
    key = (pim.key, int(kv_len), int(head_dim), int(kv_heads), int(q_per_kv), dtype, nch)
    if memo and key in _MEMO:
        return _MEMO[key]
    counts = np.zeros(len(pim.command_set), np.int64)
    end = 0
    for tc in sorted(set(lay.per_ch)):
        cyc, cnt, _ = run_stream(pim, dtype, *head_stream(pim, lay, tc, dtype), engine=engine)
        counts += cnt * lay.per_ch.count(tc)
        end = max(end, cyc)
    res = make_result(pim, dtype, nch, end, counts, int(kv_len) * kv_heads * q_per_kv,
                      int(head_dim))
    if memo:
        _MEMO[key] = res
    return res


def scores_concat_command_log(pim, kv_len: int, head_dim: int, kv_heads: int,
                              q_per_kv: int = 1, dtype: Optional[str] = None, *,
                              channels: Optional[int] = None, engine: str = "numba"):
    """Issued-command log (all channels) of :func:`simulate_scores_concat`, for the checker."""
    pim, dtype, nch, lay = _prepare(pim, kv_len, head_dim, kv_heads, q_per_kv, dtype, channels)
    if lay is None:
        raise ConfigError(f"head_dim {head_dim} does not fit a row or the global buffer")
    return streams_log(pim, dtype, [head_stream(pim, lay, tc, dtype) for tc in lay.per_ch],
                       engine)
