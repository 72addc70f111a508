"""A second timing-rule table, written from the JEDEC parameter definitions, for the checker.

The simulator's rules (:mod:`archsim.dram.standards`) are organised the way the controller needs
them (by level, grouped for the kernels). This table is written apart, one entry per JEDEC timing
parameter and the command pairs its definition names, so that :func:`archsim.dram.check_log`
catches a rule the simulator's table lacks (a missing tRCDWR or tPPD would otherwise pass
unnoticed: a checker that reads the simulator's own table cannot see what is not in it).

Sources (parameter definitions, facts only): JESD235 (HBM2) and JESD238 (HBM3) "array access
timings counted per pseudo channel"; JESD250 (GDDR6); JESD209-5 (LPDDR5); JESD79-4 (DDR4) and
JESD79-5 (DDR5), both modelled with all-bank refresh only (the REFpb entries drop out with the
command). A parameter a standard does not define is listed with the standards that have it. Where a standard defines the write
ACT-to-CAS delay separately (tRCDWR: HBM2, HBM3, GDDR6) the spec's ``nRCDWR`` holds it; LPDDR5
has one tRCD, and a spec without ``nRCDWR`` uses ``nRCD`` for both.

Scopes: ``bank`` (the same bank), ``bank_group`` (any bank of the group), ``rank`` (any bank of
the (pseudo-)channel's rank / HBM3 stack ID), ``channel`` (the data bus of the (pseudo-)channel).
Latencies are sums of spec timing names (``-name`` subtracts), in cycles.
"""
from __future__ import annotations

from functools import lru_cache

from .standards import Constraint, evaluate_latency

ALL = frozenset({"HBM2", "HBM3", "GDDR6", "LPDDR5", "DDR4", "DDR5"})
RD = ("RD", "RDA")
WR = ("WR", "WRA")

#: (JEDEC parameter, standards, scope, preceding, following, latency expression, window)
JEDEC_TIMINGS = (
    # row cycle, activate to column command, activate to precharge
    ("tRC", ALL, "bank", ("ACT",), ("ACT",), ("nRC",), 0),
    ("tRCDRD", ALL, "bank", ("ACT",), RD, ("nRCD",), 0),
    ("tRCDWR", ALL, "bank", ("ACT",), WR, ("nRCDWR",), 0),
    ("tRAS", ALL, "bank", ("ACT",), ("PRE",), ("nRAS",), 0),
    ("tRAS", ALL, "rank", ("ACT",), ("PREA",), ("nRAS",), 0),
    # precharge
    ("tRP", ALL, "bank", ("PRE",), ("ACT",), ("nRP",), 0),
    ("tRPab", ALL, "rank", ("PREA",), ("ACT",), ("nRPab",), 0),
    ("tPPD", frozenset({"HBM3", "LPDDR5", "DDR5"}), "rank", ("PRE",), ("PRE",), ("nPPD",), 0),
    # read / write to precharge (write recovery counts from the end of the write burst)
    ("tRTP", ALL, "bank", ("RD",), ("PRE",), ("nRTP",), 0),
    ("tRTP", ALL, "rank", ("RD",), ("PREA",), ("nRTP",), 0),
    ("tWR", ALL, "bank", ("WR",), ("PRE",), ("nCWL", "nBL", "nWR"), 0),
    ("tWR", ALL, "rank", ("WR",), ("PREA",), ("nCWL", "nBL", "nWR"), 0),
    # auto-precharge: the bank is precharged tRTP / tWR after the column command
    ("tRTP+tRP", ALL, "bank", ("RDA",), ("ACT",), ("nRTP", "nRP"), 0),
    ("tWR+tRP", ALL, "bank", ("WRA",), ("ACT",), ("nCWL", "nBL", "nWR", "nRP"), 0),
    # activate to activate
    ("tRRD_L", ALL, "bank_group", ("ACT",), ("ACT",), ("nRRD_L",), 0),
    ("tRRD_S", ALL, "rank", ("ACT",), ("ACT",), ("nRRD_S",), 0),
    ("tFAW", ALL, "rank", ("ACT",), ("ACT",), ("nFAW",), 4),
    # column to column
    ("tCCD_L", ALL, "bank_group", RD, RD, ("nCCD_L",), 0),
    ("tCCD_L", ALL, "bank_group", WR, WR, ("nCCD_L",), 0),
    ("tCCD_L_WR", frozenset({"DDR5"}), "bank_group", WR, WR, ("nCCD_L_WR",), 0),
    ("tCCD_S", ALL, "rank", RD, RD, ("nCCD_S",), 0),
    ("tCCD_S", ALL, "rank", WR, WR, ("nCCD_S",), 0),
    ("tWTR_L", ALL, "bank_group", WR, RD, ("nCWL", "nBL", "nWTR_L"), 0),
    ("tWTR_S", ALL, "rank", WR, RD, ("nCWL", "nBL", "nWTR_S"), 0),
    # data bus: one burst at a time; read-to-write turnaround (RL + BL/2 + bus turnaround - WL)
    ("burst", ALL, "channel", RD, RD, ("nBL",), 0),
    ("burst", ALL, "channel", WR, WR, ("nBL",), 0),
    ("tRTW", ALL, "channel", RD, WR, ("nCL", "nBL", "nTA", "-nCWL"), 0),
    # all-bank refresh
    ("tRFC", ALL, "rank", ("REFab",), ("ACT", "REFab", "REFpb"), ("nRFC",), 0),
    ("tRC", ALL, "rank", ("ACT",), ("REFab",), ("nRC",), 0),
    ("tRP", ALL, "rank", ("PRE",), ("REFab",), ("nRP",), 0),
    ("tRPab", ALL, "rank", ("PREA",), ("REFab",), ("nRPab",), 0),
    ("tRTP+tRP", ALL, "rank", ("RDA",), ("REFab",), ("nRTP", "nRP"), 0),
    ("tWR+tRP", ALL, "rank", ("WRA",), ("REFab",), ("nCWL", "nBL", "nWR", "nRP"), 0),
    # per-bank refresh (HBM REFSB, GDDR6 / LPDDR5 REFpb)
    ("tRFCpb", ALL, "bank", ("REFpb",), ("ACT",), ("nRFCpb",), 0),
    ("tRFCpb", ALL, "rank", ("REFpb",), ("REFab",), ("nRFCpb",), 0),
    ("tRREFD", ALL, "rank", ("REFpb",), ("REFpb", "ACT"), ("nRREFD",), 0),
    ("tRRD", ALL, "rank", ("ACT",), ("REFpb",), ("nRRD_S",), 0),
    ("tRC", ALL, "bank", ("ACT",), ("REFpb",), ("nRC",), 0),
    ("tRP", ALL, "bank", ("PRE",), ("REFpb",), ("nRP",), 0),
    ("tRTP+tRP", ALL, "bank", ("RDA",), ("REFpb",), ("nRTP", "nRP"), 0),
    ("tWR+tRP", ALL, "bank", ("WRA",), ("REFpb",), ("nCWL", "nBL", "nWR", "nRP"), 0),
)


def jedec_constraints(standard: str, timings: dict, commands) -> tuple:
    """The entries of :data:`JEDEC_TIMINGS` for ``standard`` as :class:`Constraint` objects,
    for the ``timings`` of one spec; entries naming a command outside ``commands`` or a timing
    the spec does not have are left out."""
    return _constraints(standard, tuple(sorted(timings.items())), frozenset(commands))


@lru_cache(maxsize=64)
def _constraints(standard, timing_items, commands) -> tuple:
    timings = dict(timing_items)
    out = []
    for _name, stds, scope, pre, fol, expr, win in JEDEC_TIMINGS:
        if standard not in stds or not (set(pre) | set(fol)) <= commands:
            continue
        if any(isinstance(t, str) and t.lstrip("-") not in timings for t in expr):
            continue
        out.append(Constraint(scope, tuple(pre), tuple(fol), evaluate_latency(expr, timings),
                              win))
    return tuple(out)
