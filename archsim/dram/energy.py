"""DRAM energy: action counts times an energy table, kept separately inspectable.

Per-command energies follow the IDD method of Micron TN-41-01 as used by DRAMsim3 and DRAMPower
(currents in mA, times in ns, so ``V x mA x ns = pJ``):

* ``E_ACT = VDD (IDD0 tRC - (IDD3N tRAS + IDD2N tRP))`` (one ACT + its PRE; PRE itself 0)
* ``E_RD  = VDD (IDD4R - IDD3N) nBL tCK``, ``E_WR = VDD (IDD4W - IDD3N) nBL tCK``
  (RDA/WRA: the same; their precharge is in E_ACT)
* ``E_REFab = VDD (IDD5AB - IDD3N) tRFC``;
  ``E_REFpb = VDD (IDD5PB - IDD3N) tRFCpb`` when IDD5PB is given, else ``E_REFab / banks``
  (an assumption: a per-bank refresh refreshes 1/banks of the rows of an all-bank one)
* background: ``VDD IDD3N`` per cycle while any bank of a rank is open, ``VDD IDD2N`` otherwise
* I/O: ``io_energy`` per bit moved over the interface by RD/WR (not included in the IDD terms)

Worked check (HBM2 preset = DRAMsim3 HBM2_8Gb_x128.ini currents): E_ACT = 1.2 (65x48 - (55x34 +
40x14)) = 828 pJ, E_RD = 1.2 (390 - 55) x 2 = 804 pJ, E_WR = 1068 pJ.

The currents apply per simulated (pseudo-)channel; for HBM2 in pseudo-channel mode this
double-counts background current of the shared 128-bit channel (documented assumption).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnergyTable:
    """Energy per action in pJ, plus background power per rank-cycle and I/O per bit."""

    per_command_pj: dict
    act_standby_pj_per_cycle: float
    pre_standby_pj_per_cycle: float
    io_pj_per_bit: float
    bits_per_access: int
    mac_pj: float = 0.0  # per MAC of a processing-in-memory unit (set by archsim.pim)


@dataclass(frozen=True)
class EnergyReport:
    """Counts and table are kept apart: ``total_pj = sum(counts x table) + background + io``."""

    counts: dict
    table: EnergyTable
    command_pj: dict
    background_pj: float
    io_pj: float

    @property
    def total_pj(self) -> float:
        return sum(self.command_pj.values()) + self.background_pj + self.io_pj


def energy_table(spec) -> EnergyTable:
    """The DRAM energy table of a :class:`~archsim.dram.spec.DramSpec` (see module docstring)."""
    p = spec.config.power
    t = spec.timings
    tck_ns = spec.tck_s * 1e9
    v = p.vdd_v
    e_act = v * (p.idd0_ma * t["nRC"] - (p.idd3n_ma * t["nRAS"] + p.idd2n_ma * t["nRP"])) * tck_ns
    e_rd = v * (p.idd4r_ma - p.idd3n_ma) * t["nBL"] * tck_ns
    e_wr = v * (p.idd4w_ma - p.idd3n_ma) * t["nBL"] * tck_ns
    e_ref = v * (p.idd5ab_ma - p.idd3n_ma) * t["nRFC"] * tck_ns
    if p.idd5pb_ma is not None and "nRFCpb" in t:
        e_refpb = v * max(p.idd5pb_ma - p.idd3n_ma, 0.0) * t["nRFCpb"] * tck_ns
    else:
        e_refpb = e_ref / spec.banks_per_rank
    per = {"ACT": max(e_act, 0.0), "PRE": 0.0, "PREA": 0.0, "RD": e_rd, "WR": e_wr, "RDA": e_rd,
           "WRA": e_wr, "REFab": e_ref, "REFpb": e_refpb}
    return EnergyTable(per_command_pj=per,
                       act_standby_pj_per_cycle=v * p.idd3n_ma * tck_ns,
                       pre_standby_pj_per_cycle=v * p.idd2n_ma * tck_ns,
                       io_pj_per_bit=p.io_energy_j_per_bit * 1e12,
                       bits_per_access=spec.org.access_bytes * 8)


def dram_energy(spec, counts, cycles: int, open_rank_cycles: int,
                n_channels_active: int) -> EnergyReport:
    """Energy of a DRAM run from its command counts and bank-open time.

    Parameters
    ----------
    counts : array (per command id) or dict (per command name)
    cycles : int
        Simulated time; every rank of ``n_channels_active`` channels draws background current.
    open_rank_cycles : int
        Sum over ranks of cycles with at least one open bank.
    """
    table = energy_table(spec)
    if not isinstance(counts, dict):
        names = spec.command_set.names
        counts = {name: int(counts[i]) for i, name in enumerate(names) if counts[i]}
    cmd_pj = {k: n * table.per_command_pj.get(k, 0.0) for k, n in counts.items()}
    rank_cycles = cycles * n_channels_active * spec.org.ranks
    open_c = min(open_rank_cycles, rank_cycles)
    bg = open_c * table.act_standby_pj_per_cycle + (rank_cycles - open_c) * \
        table.pre_standby_pj_per_cycle
    accesses = sum(counts.get(k, 0) for k in ("RD", "WR", "RDA", "WRA"))
    io = accesses * table.bits_per_access * table.io_pj_per_bit
    return EnergyReport(counts=dict(counts), table=table, command_pj=cmd_pj,
                        background_pj=float(bg), io_pj=float(io))
