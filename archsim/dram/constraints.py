"""Timing constraints as int64 arrays for the numba kernels (the controller, and any in-order
scheduler built on :mod:`archsim.dram.timing`).

:class:`ConstraintTables` groups the evaluated constraints of a command set (a standard's, or one
extended with more commands and rules) by preceding command, keeping the largest latency per
(preceding command, level, following command); rolling-window constraints (tFAW) are kept apart
as masks. Command names are resolved to ids here, once, from the :class:`CommandSet`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .standards import DRAM_COMMAND_SET, LEVEL_ID, CommandSet


@dataclass(frozen=True)
class ConstraintTables:
    """Constraints as int64 arrays for the kernels, grouped by preceding command.

    ``ptr[c]:ptr[c+1]`` indexes the rows whose preceding command is ``c``; each row has the level id
    (0 channel, 1 rank, 2 bank group, 3 bank), the following command and the latency. Window
    constraints are separate: ``win_prev[w, c]``/``win_next[w, c]`` are 0/1 masks.
    """

    ptr: np.ndarray
    level: np.ndarray
    nxt: np.ndarray
    lat: np.ndarray
    win_level: np.ndarray
    win_prev: np.ndarray
    win_next: np.ndarray
    win_lat: np.ndarray
    win_n: np.ndarray

    def arrays(self) -> tuple:
        """The arrays in the order the kernels take them (:func:`archsim.dram.timing.earliest`)."""
        return (self.ptr, self.level, self.nxt, self.lat, self.win_level, self.win_prev,
                self.win_next, self.win_lat, self.win_n)

    @classmethod
    def build(cls, constraints, commands: CommandSet = DRAM_COMMAND_SET) -> "ConstraintTables":
        """Tables of ``constraints`` with command ids from ``commands``."""
        CMD = commands.id
        NCMD = len(commands)
        rows = []
        wins = []
        for c in constraints:
            if c.window:
                wins.append(c)
                continue
            for p in c.preceding:
                for f in c.following:
                    rows.append((CMD[p], LEVEL_ID[c.level], CMD[f], c.latency))
        # keep only the largest latency per (prev, level, next)
        best = {}
        for p, lv, f, lat in rows:
            key = (p, lv, f)
            best[key] = max(best.get(key, lat), lat)
        items = sorted(best.items())
        ptr = np.zeros(NCMD + 1, np.int64)
        for (p, _lv, _f), _ in items:
            ptr[p + 1] += 1
        ptr = np.cumsum(ptr).astype(np.int64)
        level = np.array([k[1] for k, _ in items], np.int64)
        nxt = np.array([k[2] for k, _ in items], np.int64)
        lat = np.array([v for _, v in items], np.int64)
        nw = len(wins)
        win_prev = np.zeros((max(nw, 1), NCMD), np.int64)
        win_next = np.zeros((max(nw, 1), NCMD), np.int64)
        for i, w in enumerate(wins):
            for p in w.preceding:
                win_prev[i, CMD[p]] = 1
            for f in w.following:
                win_next[i, CMD[f]] = 1
        return cls(ptr, level, nxt, lat,
                   np.array([LEVEL_ID[w.level] for w in wins] or [0], np.int64),
                   win_prev, win_next,
                   np.array([w.latency for w in wins] or [0], np.int64),
                   np.array([w.window for w in wins] or [1], np.int64)[: max(nw, 1)]
                   if nw else np.zeros(1, np.int64))
