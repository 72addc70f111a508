"""Address mapping as data: a string of level tokens, most significant bits first.

``"RoBaBgRaCoPcCh"`` means: the lowest bits above the access offset select the channel, then the
pseudo-channel, then the column, rank, bank group, bank, and the remaining high bits the row (the
Ramulator/DRAMsim3 naming convention, e.g. Ramulator's ``RoBaRaCoCh``). Tokens: ``Ro`` row, ``Co``
column, ``Ba`` bank (within its group), ``Bg`` bank group, ``Ra`` rank, ``Pc`` pseudo-channel,
``Ch`` channel; each appears exactly once. Levels with one element take zero bits.

Useful mappings:

* ``RoBaCoBgRaPcCh`` (default): consecutive accesses of a channel rotate over the bank groups
  (hiding tCCD_L > tCCD_S), then walk the columns of one row per bank group, then move to the next
  bank; row switches are spread out in time so tFAW/tRRD and the next bank's ACT overlap data
  transfer. Streams reach 97-99 % of peak with per-bank refresh (see docs/dram.md).
* ``RoCoBaBgRaPcCh``: all banks interleaved below the column bits; every bank switches row at
  about the same time, which tFAW throttles (85-94 % of peak on streams).
* ``RoBaBgRaCoPcCh``: consecutive accesses stay in one row (row-buffer locality, one bank at a
  time; limited by tCCD_L).

Decoding is vectorised with numpy (shifts and masks), done once before the simulation loop.
"""
from __future__ import annotations

import numpy as np

TOKENS = {"Ro": "row", "Co": "column", "Ba": "bank", "Bg": "bank_group", "Ra": "rank",
          "Pc": "pseudo_channel", "Ch": "channel"}


def parse_mapping(text: str) -> tuple:
    """Parse a mapping string into level names, most significant first.

    Raises
    ------
    ValueError
        If a token is unknown, repeated or missing.
    """
    if not isinstance(text, str) or len(text) % 2:
        raise ValueError(f"mapping {text!r}: expected two-letter tokens such as 'RoCoBaBgRaPcCh'")
    toks = [text[i:i + 2] for i in range(0, len(text), 2)]
    bad = [t for t in toks if t not in TOKENS]
    if bad:
        raise ValueError(f"mapping {text!r}: unknown token {bad[0]!r}; expected tokens "
                         + ", ".join(TOKENS))
    if len(set(toks)) != len(toks):
        raise ValueError(f"mapping {text!r}: a token appears twice")
    missing = [t for t in TOKENS if t not in toks]
    if missing:
        raise ValueError(f"mapping {text!r}: missing token(s) {', '.join(missing)}")
    return tuple(TOKENS[t] for t in toks)


def level_counts(org) -> dict:
    return {"channel": org.channels, "pseudo_channel": org.pseudo_channels, "rank": org.ranks,
            "bank_group": org.bank_groups, "bank": org.banks_per_group, "row": org.rows,
            "column": org.columns}


def decode(spec, addresses) -> dict:
    """Split byte addresses into level indices with ``spec.controller.mapping``.

    Parameters
    ----------
    spec : DramSpec
    addresses : array of int
        Byte addresses; the low ``log2(access_bytes)`` bits are the offset within one burst.
        Addresses within the capacity (:func:`archsim.dram.simulate` refuses others; here
        high bits beyond it would be dropped).

    Returns
    -------
    dict of int64 arrays
        ``channel`` (flat id ``channel * pseudo_channels + pseudo_channel``), ``rank``,
        ``bank_group``, ``bank``, ``row``, ``column``.
    """
    org = spec.org
    counts = level_counts(org)
    x = np.asarray(addresses, dtype=np.int64) >> int(org.access_bytes).bit_length() - 1
    out = {}
    for level in reversed(parse_mapping(spec.controller.mapping)):
        n = counts[level]
        bits = n.bit_length() - 1
        out[level] = x & (n - 1)
        x = x >> bits
    out["channel"] = out["channel"] * org.pseudo_channels + out.pop("pseudo_channel")
    return out


def encode(spec, channel, rank, bank_group, bank, row, column):
    """Inverse of :func:`decode` (``channel`` is the flat channel id); returns byte addresses."""
    org = spec.org
    counts = level_counts(org)
    vals = {"channel": np.asarray(channel, np.int64) // org.pseudo_channels,
            "pseudo_channel": np.asarray(channel, np.int64) % org.pseudo_channels,
            "rank": rank, "bank_group": bank_group, "bank": bank, "row": row, "column": column}
    x = np.zeros(np.broadcast(*[np.asarray(v) for v in vals.values()]).shape, np.int64)
    for level in parse_mapping(spec.controller.mapping):
        n = counts[level]
        x = (x << (n.bit_length() - 1)) | (np.asarray(vals[level], np.int64) & (n - 1))
    return x << (int(org.access_bytes).bit_length() - 1)
