"""Head-per-channel attention with several tokens packed per DRAM row (AttAcc-style layout).

AttAcc (Park et al., ASPLOS 2024, Sec. 4) places each attention head's K and V cache in one
HBM channel, so the heads run in parallel on different channels and the query of a head is
written only to the channel that holds it; a DRAM row holds the keys of several tokens so that
one activation serves several MAC commands (AttAcc: 32 MACs per activation of a 1 KB row). This
module is that mapping on archsim's PIM model, under the ``head_per_channel`` name.

Layout (``d`` = head dim, ``epa`` = elements per access, ``E`` = elements per unit row =
banks per unit x row size / element width, ``U`` units per channel, ``C`` channels):

* **Heads over channels**: query head ``h`` (and its KV head) lives in channel ``h mod C``; a
  channel holds ``H div C`` heads (+1 for the first ``H mod C`` channels). With GQA, the query
  heads sharing a KV head are placed as separate heads (KV replicated): not a claim about
  AttAcc, which models MHA (GPT-3).
* **Tokens per row**: a token's key takes ``slot = ceil(d / epa) x epa`` elements (whole
  accesses); ``tpr = E div slot`` tokens of one head share a unit row. One ACTAB opens ``U``
  unit rows: ``U x tpr`` tokens. A head of ``L`` tokens takes ``ceil(L / (U tpr))`` activations.
* **Result register rule**: a unit has one result register (as in :mod:`archsim.pim.gemv`),
  so the score of each token of a row is read (RDMAC) before the next token's MACABs.

Command stream of one channel::

    for each head of the channel:
        WRGB x ceil(slot width / access)          the head's query (once; it fits the buffer)
        for each activation:
            ACTAB
            for each token slot of the row (tokens in the last row only):
                MACAB x slot / epa
                RDMAC x ceil(U x result_bytes / access)
            PREA

The context ``V_h^T p_h`` of a head is a GEMV (``rows = d``, ``cols = L``) on the head's one
channel (:func:`archsim.pim.gemv.simulate_gemv` with ``channels=1``); the heads of a channel run
one after another, channels in parallel. Scheduled by the same in-order kernel and timing rules
as every other PIM stream. Not modelled here: AttAcc's all-bank command over a whole legacy
channel (2 pseudo-channels x 2 ranks), result accumulation across rows, overlap of result reads
and buffer writes with MACs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import ConfigError
from .gemv import (make_result, resolve_call, run_stream, simulate_gemv, stream_arrays,
                   streams_log)
from .spec import DTYPE_BYTES, PimSpec


@dataclass(frozen=True)
class PackedLayout:
    """Where one channel's heads sit (see the module docstring)."""

    slot: int                # elements per token in a row (d padded to whole accesses)
    tokens_per_row: int      # tokens of one head per unit row
    macs_per_token: int      # MACABs per token
    wrgb_per_head: int       # WRGBs of one head's query
    rdmac_per_token: int     # RDMACs per token (one result per unit)
    heads_per_ch: tuple      # heads in each channel


def packed_layout(pim: PimSpec, heads: int, head_dim: int, dtype: str,
                  channels: int) -> PackedLayout:
    """The head-per-channel layout; a :class:`ConfigError` when a token does not fit a row or
    a query does not fit the global buffer (the layout cannot be honoured)."""
    db = DTYPE_BYTES[dtype]
    ab = pim.org.access_bytes
    epa = ab // db
    row_elems = pim.banks_per_unit * int(pim.org.row_size_bytes) // db
    slot = -(-head_dim // epa) * epa
    if slot > row_elems:
        raise ConfigError(f"head_per_channel: head dim {head_dim} ({slot} elements padded) "
                          f"does not fit a unit row of {row_elems} {dtype} elements")
    if slot * db > int(pim.config.global_buffer_bytes):
        raise ConfigError(f"head_per_channel: a {slot * db} B query does not fit the "
                          f"{int(pim.config.global_buffer_bytes)} B global buffer")
    rdmac = -(-pim.units_per_channel * pim.config.mac.result_bytes // ab)
    per_ch = tuple(heads // channels + (1 if c < heads % channels else 0)
                   for c in range(channels))
    return PackedLayout(slot, row_elems // slot, slot // epa, slot * db // ab, rdmac, per_ch)


def head_stream(pim: PimSpec, lay: PackedLayout, heads: int, kv_len: int):
    """Command stream of one channel holding ``heads`` heads of ``kv_len`` tokens each."""
    CMD = pim.command_set.id
    U, tpr = pim.units_per_channel, lay.tokens_per_row
    acts = -(-kv_len // (U * tpr))
    last = -(-(kv_len - (acts - 1) * U * tpr) // U)     # token slots used in the last row
    per_token = [CMD["MACAB"]] * lay.macs_per_token + [CMD["RDMAC"]] * lay.rdmac_per_token
    full = [CMD["ACTAB"]] + per_token * tpr + [CMD["PREA"]]
    tail = [CMD["ACTAB"]] + per_token * last + [CMD["PREA"]]
    head = np.array([CMD["WRGB"]] * lay.wrgb_per_head + full * (acts - 1) + tail, np.int64)
    hrow = np.concatenate([np.full(lay.wrgb_per_head, -1, np.int64)]
                          + [np.full(len(full), a, np.int64) for a in range(acts - 1)]
                          + [np.full(len(tail), acts - 1, np.int64)])
    cmds = [head] * heads
    rows = [hrow + np.where(hrow >= 0, h * acts, 0) for h in range(heads)]
    return stream_arrays(cmds, rows)


def simulate_scores_packed(pim, heads: int, head_dim: int, kv_len: int,
                           dtype: Optional[str] = None, *, engine: str = "numba"):
    """Scores ``K_h q_h`` of ``heads`` heads of one query position under head-per-channel with
    tokens packed per row; a :class:`~archsim.pim.gemv.GemvResult` (rows = kv_len x heads)."""
    pim, dtype, nch = resolve_call(pim, dtype, None)
    if min(heads, head_dim, kv_len) < 1:
        raise ConfigError(f"heads, head_dim and kv_len must be positive, got {heads}, "
                          f"{head_dim}, {kv_len}")
    lay = packed_layout(pim, int(heads), int(head_dim), dtype, nch)
    counts = np.zeros(len(pim.command_set), np.int64)
    end = 0
    for hc in sorted(set(lay.heads_per_ch) - {0}):
        cyc, cnt, _ = run_stream(pim, dtype, *head_stream(pim, lay, hc, int(kv_len)),
                                 engine=engine)
        counts += cnt * lay.heads_per_ch.count(hc)
        end = max(end, cyc)
    used = sum(1 for h in lay.heads_per_ch if h)
    return make_result(pim, dtype, used, end, counts, int(kv_len) * int(heads), int(head_dim))


def simulate_context_per_channel(pim, heads: int, head_dim: int, kv_len: int,
                                 dtype: Optional[str] = None):
    """Context ``V_h^T p_h`` of every head, each a GEMV on its own channel; the heads of a
    channel one after another, channels in parallel."""
    pim, dtype, nch = resolve_call(pim, dtype, None)
    one = simulate_gemv(pim, int(head_dim), int(kv_len), dtype, channels=1)
    names = pim.command_set.names
    counts = np.array([one.commands.get(n, 0) * int(heads) for n in names], np.int64)
    per_ch = -(-int(heads) // nch)
    used = min(int(heads), nch)
    return make_result(pim, dtype, used, one.cycles * per_ch, counts, int(head_dim) * int(heads),
                       int(kv_len))


def scores_packed_command_log(pim, heads: int, head_dim: int, kv_len: int,
                              dtype: Optional[str] = None, *, engine: str = "numba"):
    """Issued-command log (channels holding heads) of :func:`simulate_scores_packed`, for
    :func:`archsim.dram.checker.check_log`."""
    pim, dtype, nch = resolve_call(pim, dtype, None)
    lay = packed_layout(pim, int(heads), int(head_dim), dtype, nch)
    return streams_log(pim, dtype, [head_stream(pim, lay, hc, int(kv_len))
                                    for hc in lay.heads_per_ch if hc], engine)
