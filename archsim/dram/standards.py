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

from dataclasses import dataclass, field
from typing import Optional

#: hierarchy levels below the (pseudo-)channel that constraints can be scoped to; the channel level
#: is the data/command bus shared by all banks of one simulated channel.
LEVELS = ("channel", "rank", "bank_group", "bank")
LEVEL_ID = {name: i for i, name in enumerate(LEVELS)}
#: address levels (for mapping and logs), most significant first
ADDRESS_LEVELS = ("channel", "pseudo_channel", "rank", "bank_group", "bank", "row", "column")

#: bank states used by the checker and the controller
BANK_STATES = ("closed", "opened")


@dataclass(frozen=True)
class Command:
    """One command of a command set, as data.

    ``scope`` is the level of the node it addresses (a rank-scoped command touches every bank of
    the rank). ``bus`` is its use of the data bus: ``(latency timing name, "read"|"write")`` or
    ``None``. ``needs`` is the bank state it requires of every bank it touches (``"closed"``,
    ``"open"``, ``"open_row"``: open on the command's row, or ``None``); ``then`` what it does
    to them (``"open"``, ``"close"``, ``"refresh"`` or ``None``).
    """

    name: str
    scope: str
    bus: Optional[tuple] = None
    needs: Optional[str] = None
    then: Optional[str] = None


@dataclass(frozen=True)
class CommandSet:
    """An ordered set of commands; a command's integer id (used by the kernels and in command
    logs) is its index. Built once per standard (and extended by :mod:`archsim.pim`)."""

    commands: tuple
    #: derived at construction: names in id order, name -> id, name -> :class:`Command`
    names: tuple = field(init=False, repr=False, compare=False)
    id: dict = field(init=False, repr=False, compare=False)
    by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "names", tuple(c.name for c in self.commands))
        object.__setattr__(self, "id", {c.name: i for i, c in enumerate(self.commands)})
        object.__setattr__(self, "by_name", {c.name: c for c in self.commands})

    def __len__(self) -> int:
        return len(self.commands)

    def extend(self, *commands: Command) -> "CommandSet":
        """This set followed by ``commands`` (existing ids are kept)."""
        clash = set(self.names) & {c.name for c in commands}
        if clash:
            raise ValueError(f"commands {sorted(clash)} are already in the set")
        return CommandSet(self.commands + tuple(commands))

    def without(self, *names: str) -> "CommandSet":
        return CommandSet(tuple(c for c in self.commands if c.name not in names))


#: the commands of the JEDEC standards modelled here (a standard without per-bank refresh drops
#: REFpb); ids are indices
DRAM_COMMAND_SET = CommandSet((
    Command("ACT", "bank", needs="closed", then="open"),
    Command("PRE", "bank", needs="open", then="close"),
    Command("PREA", "rank", then="close"),
    Command("RD", "bank", bus=("nCL", "read"), needs="open_row"),
    Command("WR", "bank", bus=("nCWL", "write"), needs="open_row"),
    Command("RDA", "bank", bus=("nCL", "read"), needs="open_row", then="close"),
    Command("WRA", "bank", bus=("nCWL", "write"), needs="open_row", then="close"),
    Command("REFab", "rank", needs="closed", then="refresh"),
    Command("REFpb", "bank", needs="closed", then="refresh"),
))

# names of the DRAM command set (kept for callers that index commands by name or id)
COMMANDS = DRAM_COMMAND_SET.names
CMD = DRAM_COMMAND_SET.id
NCMD = len(DRAM_COMMAND_SET)
DRAM_COMMANDS = COMMANDS
COMMAND_SCOPE = {c.name: c.scope for c in DRAM_COMMAND_SET.commands}
DATA_BUS = {c.name: c.bus for c in DRAM_COMMAND_SET.commands if c.bus}

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
    ("bank", ("ACT",), RD_LIKE, ("nRCD",), 0),
    # write-specific ACT-to-CAS delay (tRCDWR of JESD235/238/250; equal to tRCD where the
    # standard has one value)
    ("bank", ("ACT",), WR_LIKE, ("nRCDWR",), 0),
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

#: tPPD: precharge-to-precharge delay between banks of a (pseudo-)channel
PPD_RULES = (("rank", ("PRE",), ("PRE",), ("nPPD",), 0),)

#: standard-specific extras
EXTRA_RULES = {
    # HBM3 tPPD (JESD238; Ramulator 2.1 HBM3 requires 2 cycles between PREs)
    "HBM3": PPD_RULES,
    # LPDDR5 tPPD (JESD209-5; Ramulator 2 LPDDR5.cpp nPPD)
    "LPDDR5": PPD_RULES,
    # DDR5 tPPD and the write-to-write delay in a bank group tCCD_L_WR (JESD79-5; Ramulator 2
    # DDR5.cpp nPPD, nCCDL_WR)
    "DDR5": PPD_RULES + (("bank_group", WR_LIKE, WR_LIKE, ("nCCD_L_WR",), 0),),
}


@dataclass(frozen=True)
class Standard:
    """A DRAM standard: name, its command set, and its constraint rules."""

    name: str
    has_per_bank_refresh: bool
    rules: tuple

    @property
    def command_set(self) -> CommandSet:
        """The commands of this standard (ids are those of :data:`DRAM_COMMAND_SET`: REFpb is
        the last DRAM command, so dropping it keeps every other id)."""
        return DRAM_COMMAND_SET if self.has_per_bank_refresh else \
            DRAM_COMMAND_SET.without("REFpb")

    @property
    def commands(self) -> tuple:
        return self.command_set.names


def _standard(name: str, per_bank: bool) -> Standard:
    rules = GENERIC_RULES + (PER_BANK_REFRESH_RULES if per_bank else ()) + EXTRA_RULES.get(name, ())
    if not per_bank:   # no REFpb command: drop it from the rules that name it
        rules = tuple((lv, pre, tuple(f for f in fol if f != "REFpb"), expr, win)
                      for lv, pre, fol, expr, win in rules if "REFpb" not in pre)
    return Standard(name, per_bank, rules)


#: the standards archsim knows (DDR4 has no per-bank refresh command)
STANDARDS = {
    "HBM2": _standard("HBM2", True),    # REFSB, JESD235
    "HBM3": _standard("HBM3", True),    # REFpb, JESD238
    "GDDR6": _standard("GDDR6", True),  # REFpb, JESD250
    "LPDDR5": _standard("LPDDR5", True),  # REFpb, JESD209-5
    "DDR4": _standard("DDR4", False),   # all-bank refresh only, JESD79-4
    "DDR5": _standard("DDR5", False),   # JESD79-5; same-bank refresh (REFsb) not modelled
}


@dataclass(frozen=True)
class Constraint:
    """One evaluated timing constraint (latency in cycles)."""

    level: str
    preceding: tuple
    following: tuple
    latency: int
    window: int = 0


def rule_key(rule) -> str:
    """A rule as readable text, ``level-PRE->FOL-expression`` (``-wN`` for a window rule), e.g.
    ``bank-ACT->RD/WR-nRCD`` or ``channel-RD/RDA->WR/WRA-nCL+nBL+nTA-nCWL``."""
    level, pre, fol, expr, win = rule
    text = ""
    for i, term in enumerate(expr):
        term = str(term)
        text += term if i == 0 or term.startswith("-") else "+" + term
    key = f"{level}-{'/'.join(pre)}->{'/'.join(fol)}-{text}"
    return key + (f"-w{win}" if win else "")


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
