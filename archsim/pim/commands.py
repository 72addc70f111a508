"""The PIM command set and timing rules, as data, extending a DRAM standard's.

All-bank commands of GDDR6-AiM / HBM-PIM / AttAcc style (names as in CENT's aim_simulator:
MAC_ABK -> MACAB, WR_GB -> WRGB, RD_MAC -> RDMAC):

========  =======================================================================================
ACTAB     activate the same row in every bank (all banks must be closed)
MACAB     every unit reads one column (one access) from its bank and multiplies it with the
          matching slice of the global buffer, accumulating in its result register
WRGB      write one access of the input vector into the global buffer (uses the data bus, like WR)
RDMAC     read one access of result registers out over the data bus (like RD)
MVSB      move one access of a unit's results into the softmax buffer (on-die, AttAcc MV_SB)
MVGB      move one access of the softmax buffer into a unit's input buffer (on-die, AttAcc MV_GB)
SFM       softmax of one head's scores in the softmax unit (AttAcc SFM)
PREA      precharge all banks (the DRAM command)
========  =======================================================================================

MVSB, MVGB and SFM are AttAcc's on-die moves (scale-snu/attacc_simulator at commit c600051,
``pim_ramulator_src/HBM3-PIM.cpp``, "Data Movement" rules): they share the data path of WRGB
(``nBL`` between any two of them on a pseudo-channel, ``nCCD_S`` on a rank, ``nCCD_L`` on a bank
group, between two buffer writes too; archsim keeps the pseudo-channel ``nBL`` and the
bank-group ``nCCD_L`` rules: the rank ``nCCD_S`` rule equals ``nBL`` on HBM3) and have *no* rule against MACAB, ACTAB or PREA: "These
can be executed simultaneously with MACAB ... because their data paths are different". archsim
has no pseudo-channel level inside a stream, so the ``nBL`` rule sits on the stream (a legacy
channel under a channel-wide all-bank scope): exact when, as in AttAcc's command stream, every
move goes to pseudo-channel 0. SFM takes no other time in that standard (its trace generator's
comment "SFM: 16tCK" is not a timing rule there).

All-bank scope (:func:`pim_command_set` with ``wide``): under a channel-wide scope ACTAB,
MACAB, PREA and REFab (and the channel-scoped WRGB, RDMAC and SFM) cover every rank of the
stream (AttAcc: 2 pseudo-channels x 2 ranks of a legacy channel; HBM3-PIM.cpp scopes MACAB and
PREA to the channel); the in-order kernel then takes the latest ``earliest`` over those ranks
and records the command on each.

:func:`pim_command_set` appends them to a standard's :class:`~archsim.dram.standards.CommandSet`
(DRAM ids unchanged); :data:`PIM_RULES` are added to the standard's rules, in the same
``(level, preceding, following, latency expression, window)`` form. ``nCCD_AB_eff`` is nCCD_AB
raised to the MAC units' own rate (:meth:`archsim.pim.spec.PimSpec.timings_for`).
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache

from ..dram.standards import Command, CommandSet

PIM_COMMANDS = (
    Command("ACTAB", "rank", needs="closed", then="open"),
    Command("MACAB", "rank", needs="open"),
    Command("WRGB", "channel", bus=("nCWL", "write")),
    Command("RDMAC", "channel", bus=("nCL", "read")),
    Command("MVSB", "bank"),
    Command("MVGB", "bank"),
    Command("SFM", "channel"),
)

#: AttAcc's on-die moves and the buffer write that shares their data path (HBM3-PIM.cpp)
MOVES = ("MVSB", "MVGB", "SFM")
#: commands a channel-wide all-bank scope widens to every rank of the stream
WIDE_COMMANDS = ("ACTAB", "MACAB", "PREA", "REFab")

PIM_RULES = (
    ("rank", ("PREA",), ("ACTAB",), ("nRPab",), 0),
    ("rank", ("REFab",), ("ACTAB",), ("nRFC",), 0),
    ("rank", ("ACTAB",), ("REFab",), ("nRC",), 0),
    ("rank", ("ACTAB",), ("ACTAB",), ("nRC_AB",), 0),
    ("rank", ("ACTAB",), ("MACAB",), ("nRCD_AB",), 0),
    ("rank", ("ACTAB",), ("PREA",), ("nRAS",), 0),
    ("rank", ("MACAB",), ("MACAB",), ("nCCD_AB_eff",), 0),
    ("rank", ("MACAB",), ("PREA",), ("nMACAB_PRE",), 0),
    ("rank", ("MACAB",), ("RDMAC",), ("nMAC_RD",), 0),
    ("rank", ("RDMAC",), ("MACAB",), ("nCCD_L",), 0),
    ("channel", ("WRGB",), ("MACAB",), ("nWRGB_MAC",), 0),
    ("channel", ("WRGB",), ("WRGB",), ("nBL",), 0),
    ("channel", ("RDMAC",), ("RDMAC",), ("nBL",), 0),
    ("channel", ("RDMAC",), ("WRGB",), ("nCL", "nBL", "nTA", "-nCWL"), 0),
    ("channel", ("WRGB",), ("RDMAC",), ("nCWL", "nBL", "nWTR_S"), 0),
    ("rank", ("RDMAC",), ("PREA",), ("nRTP",), 0),
    # AttAcc HBM3-PIM.cpp "Data Movement" (WRGB -> WRGB: the channel nBL rule above and the
    # bank-group nCCD_L rule below; a buffer write there addresses a bank)
    ("channel", MOVES + ("WRGB",), MOVES, ("nBL",), 0),
    ("channel", MOVES, ("WRGB",), ("nBL",), 0),
    ("bank_group", MOVES + ("WRGB",), MOVES, ("nCCD_L",), 0),
    ("bank_group", MOVES, ("WRGB",), ("nCCD_L",), 0),
    ("bank_group", ("WRGB",), ("WRGB",), ("nCCD_L",), 0),
)


@lru_cache(maxsize=None)
def pim_command_set(base: CommandSet, wide: bool = False) -> CommandSet:
    """``base`` (a DRAM standard's commands) followed by the PIM commands (one object per
    base); with ``wide``, :data:`WIDE_COMMANDS` are scoped to the whole stream (``channel``)."""
    out = base.extend(*PIM_COMMANDS)
    if not wide:
        return out
    return CommandSet(tuple(dataclasses.replace(c, scope="channel") if c.name in WIDE_COMMANDS
                            else c for c in out.commands))
