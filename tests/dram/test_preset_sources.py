"""Every DRAM preset reproduces the numbers of the source it cites (issue 13): the source's
values are written out here, apart from the presets, and compared cycle for cycle.

Where a preset combines sources, the table names which values come from where; a value a
simulator reads differently from its configuration file is the value it runs with (DRAMsim3
reads ``tRTP`` and ``tREFI``, so an ini's ``tRTP_S`` or ``REFI`` key is ignored).
"""
import pytest

from archsim.dram import list_specs, load_spec

#: preset -> (source, {timing: cycles})
SOURCES = {
    "hbm2": ("DRAMsim3 configs/HBM2_8Gb_x128.ini, as DRAMsim3 reads it (tRTP: default 5; "
             "tRC = tRAS + tRP)",
             dict(nCL=14, nCWL=4, nRCD=14, nRCDWR=14, nRP=14, nRAS=34, nRC=48, nRFC=260,
                  nREFI=3900, nRRD_S=4, nRRD_L=6, nWTR_S=6, nWTR_L=8, nFAW=30, nWR=16,
                  nCCD_S=1, nCCD_L=2, nRTP=5, nBL=2)),
    "hbm2-2400": ("Ramulator 2 python/ramulator/dram/hbm2.py at c5b1c3a, HBM2_2400Mbps with "
                  "HBM2_4Gb (tCK 833 ps; nRRDS/L, nFAW, nRFC, nRFCpb, nRREFD, nREFI from its "
                  "JESD235D formulas: 4 ns, 15 ns, 260 ns, 160 ns, 8 ns, 3.9 us)",
                  dict(nBL=2, nCL=17, nCWL=6, nRCD=17, nRCDWR=14, nRP=17, nRAS=40, nRC=57,
                       nWR=19, nRTP=6, nCCD_S=2, nCCD_L=4, nRRD_S=5, nRRD_L=5, nWTR_S=8,
                       nWTR_L=10, nFAW=19, nRFC=313, nRFCpb=193, nRREFD=10, nREFI=4682)),
    "ddr4": ("DRAMsim3 configs/DDR4_8Gb_x8_3200.ini, as DRAMsim3 reads it (REFI key ignored: "
             "tREFI default 7800)",
             dict(nCL=22, nCWL=16, nRCD=22, nRP=22, nRAS=52, nRC=74, nRFC=560, nREFI=7800,
                  nRRD_S=4, nRRD_L=8, nWTR_S=4, nWTR_L=12, nFAW=34, nWR=24, nRTP=12,
                  nCCD_S=4, nCCD_L=8, nBL=4)),
    "ddr5": ("Ramulator 2 DDR5.cpp DDR5_3200AN with DDR5_16Gb_x8 (tables: nRRDL 5, nFAW 32, "
             "tRFC1 295 ns, tREFI 3900 ns; nCCDS_WTR = nCWL + nBL + 4, nCCDL_WTR = ... + 16)",
             dict(nBL=8, nCL=24, nCWL=22, nRCD=24, nRP=24, nRAS=52, nRC=75, nWR=48, nRTP=12,
                  nPPD=2, nCCD_S=8, nCCD_L=8, nCCD_L_WR=16, nRRD_S=8, nRRD_L=5, nWTR_S=4,
                  nWTR_L=16, nFAW=32, nRFC=472, nREFI=6240, nTA=4)),
    "hbm3": ("Ramulator 2.1 HBM3 6400 (research notes table)",
             dict(nBL=2, nCL=20, nRCD=31, nRCDWR=15, nRP=26, nRAS=45, nRC=72, nCCD_S=2,
                  nCCD_L=4, nRRD_S=4, nRRD_L=5, nFAW=24, nREFI=6240)),
    "hbm3-5.2": ("Ramulator 2 HBM3_5.2Gbps, AttAcc's DRAM (research notes table)",
                 dict(nBL=2, nCL=19, nRCD=19, nRCDWR=19, nRP=19, nRAS=45, nRC=63, nCCD_S=2,
                      nCCD_L=4, nRRD_S=2, nRRD_L=4, nFAW=39, nRFCpb=260, nREFI=5070)),
    "gddr6": ("Ramulator 2.1 GDDR6 14000 (research notes table); write timings from DRAMsim3 "
              "GDDR6_8Gb_x16.ini in ns (not checked here)",
              dict(nBL=2, nCL=24, nRCD=27, nRCDWR=16, nRP=27, nRAS=53, nRC=79, nCCD_S=2,
                   nCCD_L=4, nRRD_S=8, nRRD_L=8, nFAW=29, nRFC=211, nRFCpb=106, nREFI=3333)),
    "gddr6-aim": ("aim_simulator GDDR6-AiM (research notes table)",
                  dict(nBL=2, nCL=50, nRCD=36, nRCDWR=28, nRP=32, nRAS=54, nRC=89, nCCD_S=2,
                       nCCD_L=2, nRRD_S=11, nRRD_L=11, nFAW=42, nRFC=210, nREFI=3333)),
    "lpddr5": ("Ramulator 2.1 LPDDR5_6400 (research notes table; tRFC 210 ns, tREFI 3906 ns)",
               dict(nCL=17, nRCD=15, nRP=15, nRAS=34, nRC=49, nCCD_S=2, nCCD_L=4, nRRD_S=4,
                    nFAW=16, nRFC=168, nREFI=3125)),
}


def test_every_preset_has_its_source_table():
    assert set(SOURCES) == set(list_specs())


@pytest.mark.parametrize("preset", sorted(SOURCES))
def test_preset_reproduces_its_source(preset):
    source, want = SOURCES[preset]
    t = load_spec(preset).timings
    got = {k: t[k] for k in want}
    assert got == want, f"{preset} differs from {source}"
