"""DRAM standards as data: levels, commands, bank states and timing-constraint rules.

The structure follows the way Ramulator 2 describes a standard (a list of hierarchy levels, a list of
commands with their scope, and timing constraints ``{level, preceding, following, latency, window}``),
written here as plain Python data so the controller kernel, the timing checker and the docs read the
same table.

A rule's latency is an expression: a tuple of timing names (optionally prefixed with ``-``) and
integer constants that are summed, e.g. ``("nCL", "nBL", "nTA", "-nCWL")``. :func:`evaluate_rules`
turns the rules into :class:`Constraint` objects with integer cycle latencies for one spec.

Semantics of a constraint (JEDEC JESD79-4/JESD235/JESD238/JESD250/JESD209-5 style): when a command in
``preceding`` is issued at cycle ``t`` to a node of ``level`` (e.g. a bank group), no command in
``following`` may be issued to the same node (any bank inside it) before ``t + latency``. With
``window = n > 0`` it is a rolling-window constraint: at most ``n`` ``preceding`` commands may be issued
to the node in any ``latency``-cycle window (tFAW is ``window = 4`` on ACT).

The rules mirror the JEDEC tables as encoded by Ramulator 2 (``src/dram/impl/HBM2.cpp``,
``HBM3.cpp``, ``GDDR6.cpp``, ``LPDDR5.cpp``): timing facts only, written from scratch.

Simplifications (documented in ``docs/dram.md``): a pseudo-channel is simulated as an independent
channel (HBM's shared row-command bus between the two pseudo-channels is not modelled); one command
per cycle per channel; the rank-switch bubble tRTRS is not modelled beyond data-bus separation.
"""
from __future__ import annotations

from dataclasses import dataclass

#: hierarchy levels below the (pseudo-)channel that constraints can be scoped to; the channel level
#: is the data/command bus shared by all banks of one simulated channel.
LEVELS = ("channel", "rank", "bank_group", "bank")
LEVEL_ID = {name: i for i, name in enumerate(LEVELS)}
#: address levels (for mapping and logs), most significant first
ADDRESS_LEVELS = ("channel", "pseudo_channel", "rank", "bank_group", "bank", "row", "column")

#: command names; the integer ids are the indices (used by the numba kernels)
COMMANDS = ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA", "REFab", "REFpb",
            "ACTAB", "MACAB", "WRGB", "RDMAC")
CMD = {name: i for i, name in enumerate(COMMANDS)}
NCMD = len(COMMANDS)
#: the command subset a plain DRAM controller issues
DRAM_COMMANDS = COMMANDS[:9]
#: processing-in-memory all-bank commands (GDDR6-AiM / HBM-PIM / AttAcc style), see :mod:`.pim`
PIM_COMMANDS = COMMANDS[9:]

#: bank states used by the checker and the controller
BANK_STATES = ("closed", "opened")

#: scope of each command: the level of the node it addresses
COMMAND_SCOPE = {
    "ACT": "bank", "PRE": "bank", "PREA": "rank", "RD": "bank", "WR": "bank", "RDA": "bank",
    "WRA": "bank", "REFab": "rank", "REFpb": "bank",
    "ACTAB": "rank", "MACAB": "rank", "WRGB": "channel", "RDMAC": "channel",
}

#: data-bus usage: command -> (latency timing name, direction) for the checker's bus-overlap test
DATA_BUS = {"RD": ("nCL", "read"), "RDA": ("nCL", "read"), "RDMAC": ("nCL", "read"),
            "WR": ("nCWL", "write"), "WRA": ("nCWL", "write"), "WRGB": ("nCWL", "write")}

RD_LIKE = ("RD", "RDA")
WR_LIKE = ("WR", "WRA")

#: Rules common to the JEDEC standards modelled here (HBM2 JESD235, HBM3 JESD238, GDDR6 JESD250,
#: LPDDR5 JESD209-5), as tabulated in Ramulator 2's standard files. ``nTA`` is the read-to-write bus
#: turnaround (Ramulator 2 uses 2 cycles, "assuming tWPRE = 1 tCK").
GENERIC_RULES = (
    # --- channel: the shared data bus -------------------------------------------------------
    ("channel", RD_LIKE, RD_LIKE, ("nBL",), 0),
    ("channel", WR_LIKE, WR_LIKE, ("nBL",), 0),
    ("channel", RD_LIKE, WR_LIKE, ("nCL", "nBL", "nTA", "-nCWL"), 0),
    # write data must leave the bus before read data of another rank uses it
    ("channel", WR_LIKE, RD_LIKE, ("nCWL", "nBL", "nTA", "-nCL"), 0),
    # --- rank --------------------------------------------------------------------------------
    ("rank", ("ACT",), ("ACT",), ("nRRD_S",), 0),
    ("rank", ("ACT",), ("ACT",), ("nFAW",), 4),
    ("rank", RD_LIKE, RD_LIKE, ("nCCD_S",), 0),
    ("rank", WR_LIKE, WR_LIKE, ("nCCD_S",), 0),
    ("rank", WR_LIKE, RD_LIKE, ("nCWL", "nBL", "nWTR_S"), 0),
    ("rank", ("RD",), ("PREA",), ("nRTP",), 0),
    ("rank", ("WR",), ("PREA",), ("nCWL", "nBL", "nWR"), 0),
    ("rank", ("ACT",), ("PREA",), ("nRAS",), 0),
    ("rank", ("PREA",), ("ACT",), ("nRPab",), 0),
    ("rank", ("ACT",), ("REFab",), ("nRC",), 0),
    ("rank", ("PRE",), ("REFab",), ("nRP",), 0),
    ("rank", ("PREA",), ("REFab",), ("nRPab",), 0),
    ("rank", ("RDA",), ("REFab",), ("nRTP", "nRP"), 0),
    ("rank", ("WRA",), ("REFab",), ("nCWL", "nBL", "nWR", "nRP"), 0),
    ("rank", ("REFab",), ("ACT", "REFab", "REFpb", "PREA"), ("nRFC",), 0),
    # --- bank group --------------------------------------------------------------------------
    ("bank_group", ("ACT",), ("ACT",), ("nRRD_L",), 0),
    ("bank_group", RD_LIKE, RD_LIKE, ("nCCD_L",), 0),
    ("bank_group", WR_LIKE, WR_LIKE, ("nCCD_L",), 0),
    ("bank_group", WR_LIKE, RD_LIKE, ("nCWL", "nBL", "nWTR_L"), 0),
    # --- bank --------------------------------------------------------------------------------
    ("bank", ("ACT",), ("ACT",), ("nRC",), 0),
    ("bank", ("ACT",), RD_LIKE + WR_LIKE, ("nRCD",), 0),
    ("bank", ("ACT",), ("PRE",), ("nRAS",), 0),
    ("bank", ("PRE",), ("ACT",), ("nRP",), 0),
    ("bank", ("RD",), ("PRE",), ("nRTP",), 0),
    ("bank", ("WR",), ("PRE",), ("nCWL", "nBL", "nWR"), 0),
    ("bank", ("RDA",), ("ACT",), ("nRTP", "nRP"), 0),
    ("bank", ("WRA",), ("ACT",), ("nCWL", "nBL", "nWR", "nRP"), 0),
)

#: per-bank refresh (REFpb / HBM REFSB / GDDR6 REFpb / LPDDR5 REFpb), only for standards that have it
PER_BANK_REFRESH_RULES = (
    ("rank", ("REFpb",), ("REFpb",), ("nRREFD",), 0),
    ("rank", ("REFpb",), ("ACT",), ("nRREFD",), 0),
    ("rank", ("ACT",), ("REFpb",), ("nRRD_S",), 0),
    ("rank", ("REFpb",), ("REFab", "PREA"), ("nRFCpb",), 0),
    ("bank", ("REFpb",), ("ACT",), ("nRFCpb",), 0),
    ("bank", ("ACT",), ("REFpb",), ("nRC",), 0),
    ("bank", ("PRE",), ("REFpb",), ("nRP",), 0),
    ("bank", ("RDA",), ("REFpb",), ("nRTP", "nRP"), 0),
    ("bank", ("WRA",), ("REFpb",), ("nCWL", "nBL", "nWR", "nRP"), 0),
)

#: standard-specific extras
EXTRA_RULES = {
    # LPDDR5 tPPD: precharge-to-precharge delay (JESD209-5; Ramulator 2 LPDDR5.cpp nPPD)
    "LPDDR5": (("rank", ("PRE",), ("PRE",), ("nPPD",), 0),),
}


@dataclass(frozen=True)
class Standard:
    """A DRAM standard: name, which commands it has, and its constraint rules."""

    name: str
    has_per_bank_refresh: bool
    rules: tuple

    @property
    def commands(self) -> tuple:
        return tuple(c for c in DRAM_COMMANDS if c != "REFpb" or self.has_per_bank_refresh)


def _standard(name: str, per_bank: bool) -> Standard:
    rules = GENERIC_RULES + (PER_BANK_REFRESH_RULES if per_bank else ()) + EXTRA_RULES.get(name, ())
    return Standard(name, per_bank, rules)


#: the standards archsim knows (all four have a per-bank refresh command in JEDEC)
STANDARDS = {
    "HBM2": _standard("HBM2", True),    # REFSB, JESD235
    "HBM3": _standard("HBM3", True),    # REFpb, JESD238
    "GDDR6": _standard("GDDR6", True),  # REFpb, JESD250
    "LPDDR5": _standard("LPDDR5", True),  # REFpb, JESD209-5
}


@dataclass(frozen=True)
class Constraint:
    """One evaluated timing constraint (latency in cycles)."""

    level: str
    preceding: tuple
    following: tuple
    latency: int
    window: int = 0


def evaluate_latency(expr, timings: dict) -> int:
    """Sum a latency expression (timing names, ``-name`` and ints) using ``timings``."""
    total = 0
    for term in expr:
        if isinstance(term, int):
            total += term
        elif term.startswith("-"):
            total -= int(timings[term[1:]])
        else:
            total += int(timings[term])
    return total


def evaluate_rules(rules, timings: dict) -> tuple:
    """Evaluate ``rules`` into :class:`Constraint` objects for one set of integer timings."""
    return tuple(Constraint(level, tuple(pre), tuple(fol), evaluate_latency(expr, timings), win)
                 for level, pre, fol, expr, win in rules)
