"""AttAcc's bank-level attention mapping: one decode step's scores, softmax and context.

AttAcc (Park et al., ASPLOS 2024) generates its HBM3-PIM command trace with
``pim_ramulator_src/trace_gen/gen_trace_attacc_bank.py`` (github scale-snu/attacc_simulator,
read at commit c600051). This module lays out the same work, as data, on a PIM config whose
all-bank commands cover a legacy channel (``mapping.allbank_scope: channel``):

* **Heads over channels**: one head per legacy channel, ``ceil(H / C)`` rounds of ``C`` heads
  (130 heads on 16 channels: 9 rounds, the last on 2 channels).
* **Scores** ``K q``: the head dim is split over the ``n_bank`` banks of a bank group (``nk =
  ceil(d / (n_bank x e))`` accesses each, ``e`` elements per access) and tokens over the ``R x
  n_bg`` (pseudo-channel, rank, bank group) units, so ``ntok = ceil(L / (R n_bg))`` token
  groups of ``nk`` MACABs each (GPT-3: 2 MACABs per 16 tokens; 32 per 1 KB row). The query is
  ``n_bank x nk`` WRGBs; every 16 token groups the results move to the softmax buffer: ``S x
  n_bg`` MVSBs (``S`` stack IDs, pseudo-channel 0).
* **Softmax**: one SFM per head.
* **Context** ``V^T p``: ``p`` moves back to the units' buffers on-die, ``S x n_bg x ceil(L / (R
  n_bg e))`` MVGBs; ``nk`` blocks of ``ntok`` MACABs, each followed by ``n_bank x S`` MVSBs.
* **Head-level pipelining** (the generator's "overlapping commands"): rounds run in pairs; the
  next head's query writes ride in the first head's score windows, the first head's softmax and
  MVGBs in the second head's, and so on; barriers separate windows. AttAcc's own choices are
  kept, since the aim is its command stream: 16 "dummy" MACABs before the first barrier; the
  interleaved writes use an integer stride, so when ``n_bank x nk x C`` is not a multiple of the
  window count the remainder of the next head's query writes is dropped (WR_GB 1,032 instead of
  1,040 at L = 2064); the second head's context phase repeats the first head's commands (same
  counts and rows).
* **As published or complete**: ``as_published=True`` (the ``attacc`` mapping) keeps the three
  generator choices above, to reproduce AttAcc's figures; with long contexts its integer stride
  drops more (stride 0, every interleaved query write of the pair's second head, once a head has
  more score windows than query writes: L > 32,768 for GPT-3), which the result reports
  (:func:`published_shortfall`). ``as_published=False`` (the ``attacc_complete`` mapping) issues
  every query write and MVGB (the stride rounded up), no dummy MACABs, and each head's own
  context rows.
* **Rows**: AttAcc's addresses, keys of round ``i`` at ``i x ceil(Lmax d / (R n_bg n_bank))``
  bytes (``Lmax`` = 4096, the generator's default ``--maxlen``, which its wrapper keeps), values
  ``2^23`` bytes above; one ACTAB per new row (PREA first when one is open), as its controller
  opens rows on demand.

The stream of each channel is scheduled by :mod:`archsim.pim.window_kernel` (moves overlap
MACABs within a window, as AttAcc's controller lets them). The step time is the slowest
channel's. Energy: counts x the PIM energy table; SFM is counted but has no price (no figure for
AttAcc's softmax unit is used here: ``unpriced``).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..dram.controller import CommandLog
from ..dram.timing import LOG_COLS
from ..errors import ConfigError
from .gemv import inorder_params, make_result, resolve_call
from .spec import DTYPE_BYTES, PimSpec
from .window_kernel import (I_BUFFER, I_DUAL, I_HITBANK, I_MACAB, I_PREA, I_REFWAIT,
                            NPARAM_WINDOW, window_kernel_nb, window_kernel_py)

#: the generator's default --maxlen (tokens reserved per head in the address map), kept by
#: AttAcc's ramulator_wrapper.py, which does not pass it
MAX_KV_LEN = 4096
#: token groups per softmax-buffer move (gen_trace_attacc_bank.py: ``n_idx % 16 == 15``)
GROUPS_PER_MVSB = 16
#: byte offset of the values above the keys (gen_trace_attacc_bank.py ``v_offset = 2**23``)
V_OFFSET_BYTES = 1 << 23
#: requests AttAcc's controller sees per channel, barriers included: Ramulator 2 (commit
#: b7c70275, which AttAcc's set_pim_ramulator.sh checks out) src/base/request.h ``ReqBuffer``,
#: ``max_size = 32`` with ``enqueue`` accepting while ``size() <= max_size``
REQUEST_BUFFER = 33

MAC, WRGB, MVSB, MVGB, SFM = range(5)
KINDS = ("MACAB", "WRGB", "MVSB", "MVGB", "SFM")


class _Trace:
    """The global command list (all channels), in AttAcc's order; barriers as window ids."""

    def __init__(self):
        self.rows = []            # (kind, channel, rank, bank group, bank, row, window)
        self.win = 0

    def add(self, cmds):
        for c in cmds:
            self.rows.append(c + (self.win,))

    def barrier(self):
        self.win += 1


def _lists(pim: PimSpec, H: int, d: int, L: int, dtype: str):
    """Per round: the generator's command lists (scores WRGB, MAC groups, MVSB windows, SFM,
    context MVGB, MAC blocks, MVSB blocks), each entry ``(kind, ch, rank, bg, bank, row)``."""
    o = pim.dram.org
    C, S, P = o.channels, o.ranks, o.pseudo_channels
    n_bg, n_bank = o.bank_groups, o.banks_per_group
    e = o.access_bytes // DTYPE_BYTES[dtype]
    row_b, acc_b = int(o.row_size_bytes), o.access_bytes
    R = P * S
    nk = -(-d // (n_bank * e))
    ntok = -(-L // (R * n_bg))
    part_b = -(-max(MAX_KV_LEN, L) * d // (R * n_bg * n_bank))
    rounds = -(-H // C)
    out = []
    for i in range(rounds):
        valid = C if H - i * C >= C else H % C
        key_b, val_b = i * part_b, i * part_b + V_OFFSET_BYTES
        chans = range(valid)
        wr = [(WRGB, c, 0, 0, ba, -1) for ba in range(n_bank) for _ in range(nk) for c in chans]
        mac = [[(MAC, c, 0, 0, 0, (key_b + (k + n * nk) * acc_b) // row_b)
                for k in range(nk) for c in chans] for n in range(ntok)]
        mvsb = [[(MVSB, c, s, g, 0, -1) for g in range(n_bg) for s in range(S) for c in chans]
                for _ in range(-(-ntok // GROUPS_PER_MVSB))]
        sfm = [(SFM, c, 0, 0, 0, -1) for c in chans]
        mvgb = [(MVGB, c, s, g, 0, -1) for s in range(S) for g in range(n_bg)
                for _ in range(-(-L // (R * n_bg * e))) for c in chans]
        cmac = [[(MAC, c, 0, 0, 0, (val_b + (k + n * ntok) * acc_b) // row_b)
                 for k in range(ntok) for c in chans] for n in range(nk)]
        cmvsb = [[(MVSB, c, s, 0, ba, -1) for ba in range(n_bank) for s in range(S)
                  for c in chans] for _ in range(nk)]
        out.append(dict(valid=valid, wr=wr, mac=mac, mvsb=mvsb, sfm=sfm, mvgb=mvgb, cmac=cmac,
                        cmvsb=cmvsb))
    return out, nk


def _score_windows(tr: _Trace, head: dict, extra):
    """Score windows of ``head``: 16 MAC groups, the previous window's MVSBs, then
    ``extra(j, length)`` (the other head's moves), a barrier after all but the last."""
    mac, mvsb = head["mac"], head["mvsb"]
    length = len(mvsb)
    for j in range(length + 1):
        if j < length:
            for g in mac[j * GROUPS_PER_MVSB:(j + 1) * GROUPS_PER_MVSB]:
                tr.add(g)
        if j > 0:
            tr.add(mvsb[j - 1])
        extra(j, length)
        if j < length:
            tr.barrier()


def _context_windows(tr: _Trace, head: dict, extra):
    cmac, cmvsb = head["cmac"], head["cmvsb"]
    length = len(cmac)
    for j in range(length + 1):
        if j < length:
            tr.add(cmac[j])
        if j > 0:
            tr.add(cmvsb[j - 1])
        extra(j, length)
        if j < length:
            tr.barrier()


def _strided(lst, j, first, stride):
    """Entries ``[(j - first) x stride, + stride)`` of ``lst`` (the generator's slicing)."""
    a = (j - first) * stride
    return lst[a:a + stride]


def _stride(n: int, windows: int, as_published: bool) -> int:
    """Entries of a list of ``n`` interleaved into each of ``windows`` windows: the generator's
    ``int(n / windows)`` (drops the remainder), or rounded up so that none is dropped."""
    return int(n / windows) if as_published else -(-n // windows)


def _sfm_then_mvgb(tr: _Trace, head: dict, length: int, as_published: bool):
    """The ``extra`` of a window loop of ``length`` windows that interleaves ``head``'s SFM
    (first window) and its MVGBs (strided over the windows of the second half)."""
    half = length // 2
    stride = _stride(len(head["mvgb"]), math.ceil(length / 2), as_published)

    def extra(j, ln):
        if j == 0:
            tr.add(head["sfm"])
        if half <= j < ln:
            tr.add(_strided(head["mvgb"], j, half, stride))
    return extra


def attacc_trace(pim: PimSpec, H: int, d: int, L: int, dtype: str,
                 as_published: bool = True) -> list:
    """AttAcc's command order for ``H`` heads (see the module docstring): rows of ``(kind,
    channel, rank, bank group, bank, row, window)``; ``as_published`` keeps the generator's
    dummy MACABs, dropped interleaved writes and repeated context."""
    heads, nk = _lists(pim, H, d, L, dtype)
    tr = _Trace()
    n = len(heads)
    for i in range(0, n - 1, 2):
        h0, h1 = heads[i], heads[i + 1]
        tr.add(h0["wr"])
        if i == 0 and as_published:
            tr.add([g for g in h0["mac"][0]][:h0["valid"]])    # the "dummy" MACs
        tr.barrier()
        length = len(h0["mvsb"])
        stride = _stride(len(h1["wr"]), length, as_published)

        def wr1(j, ln, h1=h1, stride=stride):
            if j < ln:
                tr.add(_strided(h1["wr"], j, 0, stride))
        _score_windows(tr, h0, wr1)
        # the first head's softmax and MVGBs ride in the second head's score windows, the
        # second head's in the first head's context windows (from the second half on)
        _score_windows(tr, h1, _sfm_then_mvgb(tr, h0, length, as_published))
        _context_windows(tr, h0, _sfm_then_mvgb(tr, h1, len(h0["cmac"]), as_published))
        # the generator's "Head1: Context" repeats head 0's commands (same counts, head 0's rows)
        _context_windows(tr, h0 if as_published else h1, lambda j, ln: None)
    if n % 2:
        h = heads[-1]
        tr.add(h["wr"])
        tr.barrier()
        _score_windows(tr, h, lambda j, ln: None)
        tr.add(h["sfm"])
        tr.add(h["mvgb"])
        tr.barrier()
        _context_windows(tr, h, lambda j, ln: None)
    return tr.rows


def channel_stream(pim: PimSpec, rows: list, channel: int):
    """One channel's stream for :mod:`archsim.pim.window_kernel`: the channel's commands in
    order, an ACTAB (after a PREA when a row is open) before a MACAB on a new row; each with its
    request position, barriers (sent to every channel) counted as requests."""
    ids = pim.command_set.id
    S = pim.dram.org.ranks
    kind_id = [ids[k] for k in KINDS]
    out = []
    bars = []
    open_row = -1
    q = 0
    last_w = 0
    for kind, ch, r, g, b, row, w in rows:
        if w > last_w:                      # barriers passed since this channel's last request
            bars.extend(range(q, q + w - last_w))
            q += w - last_w
            last_w = w
        if ch != channel:
            continue
        if kind == MAC:
            if row != open_row:
                if open_row >= 0:
                    out.append((ids["PREA"], 0, 0, 0, open_row, 0, w, q))
                out.append((ids["ACTAB"], 0, 0, 0, row, 0, w, q))
                open_row = row
            out.append((kind_id[MAC], 0, 0, 0, row, 0, w, q))
        else:
            # folded ranks: pseudo-channel 0, stack ID r (AttAcc addresses pCH 0 only)
            out.append((kind_id[kind], r % S, g, b, -1, 1, w, q))
        q += 1
    a = np.array(out, np.int64).reshape(-1, 8)
    isbar = np.zeros(q, np.int64)
    isbar[np.array(bars, np.int64)] = 1
    return tuple(np.ascontiguousarray(a[:, k]) for k in range(8)) + (isbar,)


def run_window_stream(pim: PimSpec, dtype: str, stream, *, log=False, engine="numba"):
    """Schedule one channel's two-lane stream; (end cycle, counts, log rows or None)."""
    _t, _c, tb = pim.constraints_for(dtype)
    cs = pim.command_set
    kern = window_kernel_nb if engine == "numba" else window_kernel_py
    n = len(stream[0])
    cap = (n + n // 4 + 64) if log else 0
    while True:
        prm = inorder_params(pim, cap, NPARAM_WINDOW)
        prm[I_PREA] = cs.id["PREA"]
        prm[I_MACAB] = cs.id["MACAB"]
        prm[I_HITBANK] = 0      # AttAcc's MACABs address pCH 0, rank 0, bank group 0, bank 0
        prm[I_BUFFER] = REQUEST_BUFFER
        prm[I_DUAL] = 1         # a row and a column command per cycle (hbm3_pim_controller.cpp)
        prm[I_REFWAIT] = 1      # MACABs and moves go on while a due refresh waits for its PREA
        logarr = np.zeros((max(cap, 1), LOG_COLS), np.int64)
        counts = np.zeros(len(cs), np.int64)
        stats = np.zeros(2, np.int64)
        kern(*stream, prm, *tb.arrays(), logarr, counts, stats)
        if not log or stats[1] <= cap:
            return int(stats[0]), counts, (logarr[: stats[1]] if log else None)
        cap = int(stats[1])


def _check(pim: PimSpec, H: int, d: int, L: int) -> None:
    if pim.allbank_scope != "channel" or pim.config.mac.unit_level != "bank":
        raise ConfigError(f"the attacc mapping needs bank-level MAC units and all-bank commands "
                          f"over a legacy channel (mapping.allbank_scope: channel); "
                          f"{pim.name} has {pim.config.mac.unit_level} units and "
                          f"{pim.allbank_scope} scope")
    if min(H, d, L) < 1:
        raise ConfigError(f"heads, head dim and KV length must be positive, got {H}, {d}, {L}")


def _streams(pim, H, d, L, dtype, as_published=True):
    rows = attacc_trace(pim, H, d, L, dtype, as_published)
    return [channel_stream(pim, rows, c) for c in range(min(H, pim.n_channels))]


def published_shortfall(pim, heads: int, head_dim: int, kv_len: int,
                        dtype: Optional[str] = None) -> dict:
    """Commands of AttAcc's generator as published minus those of the complete stream, per
    command (WRGB and MVGB negative where its integer stride drops interleaved writes and
    moves; MACAB +16 for its dummy MACs); only nonzero entries."""
    pim, dtype, _n = resolve_call(pim, dtype, None)
    H, d, L = int(heads), int(head_dim), int(kv_len)
    _check(pim, H, d, L)
    diff = {}
    for sign, pub in ((1, True), (-1, False)):
        for row in attacc_trace(pim, H, d, L, dtype, pub):
            diff[KINDS[row[0]]] = diff.get(KINDS[row[0]], 0) + sign
    return {k: v for k, v in diff.items() if v}


def simulate_attacc(pim, heads: int, head_dim: int, kv_len: int, dtype: Optional[str] = None,
                    *, engine: str = "numba", as_published: bool = True):
    """One decode step's attention (scores, softmax, context) of ``heads`` heads under AttAcc's
    mapping; a :class:`~archsim.pim.gemv.GemvResult` (``macs`` = 2 H L d) whose ``commands``
    include MVSB, MVGB and SFM. ``as_published`` keeps the generator's choices (module
    docstring); ``False`` gives the complete stream."""
    pim, dtype, _n = resolve_call(pim, dtype, None)
    H, d, L = int(heads), int(head_dim), int(kv_len)
    _check(pim, H, d, L)
    counts = np.zeros(len(pim.command_set), np.int64)
    end = 0
    seen = {}
    for st in _streams(pim, H, d, L, dtype, as_published):
        key = b"".join(a.tobytes() for a in st)
        hit = seen.get(key)
        if hit is None:
            hit = seen[key] = run_window_stream(pim, dtype, st, engine=engine)[:2]
        counts += hit[1]
        end = max(end, hit[0])
    return make_result(pim, dtype, min(H, pim.n_channels), end, counts, H * L, 2 * d)


def attacc_command_log(pim, heads: int, head_dim: int, kv_len: int,
                       dtype: Optional[str] = None, *, engine: str = "numba",
                       as_published: bool = True) -> CommandLog:
    """Issued-command log of :func:`simulate_attacc` (every channel), for
    :func:`archsim.dram.checker.check_log`."""
    pim, dtype, _n = resolve_call(pim, dtype, None)
    _check(pim, int(heads), int(head_dim), int(kv_len))
    parts = []
    streams = _streams(pim, int(heads), int(head_dim), int(kv_len), dtype, as_published)
    for c, st in enumerate(streams):
        _cyc, _cnt, lg = run_window_stream(pim, dtype, st, log=True, engine=engine)
        parts.append(np.column_stack([lg, np.full(len(lg), c, np.int64)]))
    a = np.concatenate(parts)
    return CommandLog(cycle=a[:, 0], command=a[:, 1], channel=a[:, 8], rank=a[:, 2],
                      bank_group=a[:, 3], bank=a[:, 4], row=a[:, 5], column=a[:, 6],
                      request=a[:, 7])
