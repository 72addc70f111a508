"""The PIM command set and timing rules, as data, extending a DRAM standard's.

All-bank commands of GDDR6-AiM / HBM-PIM / AttAcc style (names as in CENT's aim_simulator:
MAC_ABK -> MACAB, WR_GB -> WRGB, RD_MAC -> RDMAC):

========  =======================================================================================
ACTAB     activate the same row in every bank (all banks must be closed)
MACAB     every unit reads one column (one access) from its bank and multiplies it with the
          matching slice of the global buffer, accumulating in its result register
WRGB      write one access of the input vector into the global buffer (uses the data bus, like WR)
RDMAC     read one access of result registers out over the data bus (like RD)
PREA      precharge all banks (the DRAM command)
========  =======================================================================================

:func:`pim_command_set` appends them to a standard's :class:`~archsim.dram.standards.CommandSet`
(DRAM ids unchanged); :data:`PIM_RULES` are added to the standard's rules, in the same
``(level, preceding, following, latency expression, window)`` form. ``nCCD_AB_eff`` is nCCD_AB
raised to the MAC units' own rate (:meth:`archsim.pim.spec.PimSpec.timings_for`).
"""
from __future__ import annotations

from functools import lru_cache

from ..dram.standards import Command, CommandSet

PIM_COMMANDS = (
    Command("ACTAB", "rank", needs="closed", then="open"),
    Command("MACAB", "rank", needs="open"),
    Command("WRGB", "channel", bus=("nCWL", "write")),
    Command("RDMAC", "channel", bus=("nCL", "read")),
)

PIM_RULES = (
    ("rank", ("PREA",), ("ACTAB",), ("nRPab",), 0),
    ("rank", ("REFab",), ("ACTAB",), ("nRFC",), 0),
    ("rank", ("ACTAB",), ("REFab",), ("nRC",), 0),
    ("rank", ("ACTAB",), ("ACTAB",), ("nRC_AB",), 0),
    ("rank", ("ACTAB",), ("MACAB",), ("nRCD_AB",), 0),
    ("rank", ("ACTAB",), ("PREA",), ("nRAS",), 0),
    ("rank", ("MACAB",), ("MACAB",), ("nCCD_AB_eff",), 0),
    ("rank", ("MACAB",), ("PREA",), ("nRTP",), 0),
    ("rank", ("MACAB",), ("RDMAC",), ("nMAC_RD",), 0),
    ("rank", ("RDMAC",), ("MACAB",), ("nCCD_L",), 0),
    ("channel", ("WRGB",), ("MACAB",), ("nWRGB_MAC",), 0),
    ("channel", ("WRGB",), ("WRGB",), ("nBL",), 0),
    ("channel", ("RDMAC",), ("RDMAC",), ("nBL",), 0),
    ("channel", ("RDMAC",), ("WRGB",), ("nCL", "nBL", "nTA", "-nCWL"), 0),
    ("channel", ("WRGB",), ("RDMAC",), ("nCWL", "nBL", "nWTR_S"), 0),
    ("rank", ("RDMAC",), ("PREA",), ("nRTP",), 0),
)


@lru_cache(maxsize=None)
def pim_command_set(base: CommandSet) -> CommandSet:
    """``base`` (a DRAM standard's commands) followed by the PIM commands (one object per
    base)."""
    return base.extend(*PIM_COMMANDS)
