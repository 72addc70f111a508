"""Ranks > 1 and a channel-wide all-bank scope (issue 13 item 4): AttAcc's HBM3 stack of 1,024
banks is expressible, one all-bank command drives the 64 banks of a legacy channel (2
pseudo-channels x 2 stack IDs x 16), and its command logs pass the independent checker."""
import numpy as np
import pytest

from archsim.dram.checker import check_log
from archsim.errors import ConfigError
from archsim.pim import load_pim, simulate_gemv
from archsim.pim.gemv import gemv_command_log, streams_log


def test_attacc_stack_has_1024_banks_driven_64_per_all_bank_command():
    pim = load_pim("hbm3-attacc")
    assert pim.dram.org.ranks == 2 and pim.dram.org.pseudo_channels == 2
    assert pim.n_channels == 16 and pim.org.ranks == 4 and pim.units_per_channel == 64
    assert pim.n_channels * pim.units_per_channel == 1024
    # 2 FLOP x 16 lanes x 1,024 banks x 325.098 MHz
    assert pim.peak_flops == pytest.approx(2 * 16 * 1024 * 325.098e6)
    assert {c.name for c in pim.command_set.commands if c.scope == "channel"} >= \
        {"ACTAB", "MACAB", "PREA", "REFab"}


def test_channel_wide_gemv_log_passes_the_checker_with_refresh():
    pim = load_pim("hbm3-attacc-npc")
    res = simulate_gemv(pim, 2048, 1024, channels=1, memo=False)
    assert res.commands["REFab"] > 0
    log = gemv_command_log(pim, 2048, 1024, channels=1)
    assert check_log(pim, log) == []
    # a wide command is logged once, at rank 0, and covers every rank: the checker sees the
    # same counts as the simulator
    assert set(log.rank.tolist()) == {0}
    names = [pim.command_set.names[c] for c in log.command]
    assert {k: names.count(k) for k in set(names)} == res.commands


def test_wide_command_waits_for_the_latest_of_its_ranks():
    """A move to rank 3, bank group 0, then a stream-wide WRGB (it writes every unit's buffer):
    the WRGB waits nCCD_L (4) for bank group 0 of rank 3, not only nBL (2) as rank 0 alone
    would allow; the log passes the checker, which looks at every rank the WRGB covers."""
    pim = load_pim("hbm3-attacc")
    cs = pim.command_set.id
    cmd = np.array([cs["MVSB"], cs["WRGB"]], np.int64)
    rank = np.array([3, 0], np.int64)
    z = np.zeros(2, np.int64)
    log = streams_log(pim, "fp16", [(cmd, rank, z, z.copy(), np.full(2, -1, np.int64))])
    assert check_log(pim, log) == []
    t = pim.timings
    assert log.cycle[1] - log.cycle[0] == t["nCCD_L"] > t["nBL"]


def test_channel_scope_needs_something_to_cover(write):
    p = write("p.yaml", "extends: gddr6-aim\nmapping:\n  source: x\n  allbank_scope: channel\n")
    with pytest.raises(ConfigError, match="allbank_scope"):
        load_pim(p)


def test_mapping_section_errors_name_file_line_and_key(write, capsys):
    from archsim.cli import main
    p = write("p.yaml", "extends: hbm3-attacc\nmapping:\n  source: x\n  allbank_scope: rank\n")
    assert main(["check", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"archsim: error: {p}:4: mapping.allbank_scope:") and "\n" not in err


def test_a_stream_draws_the_standby_and_refresh_energy_of_every_rank_it_covers():
    """16 streams of 2 pseudo-channels x 2 stack IDs: background and REFab energy are those of
    4 (pseudo-channel, stack ID) pairs per stream, as the DRAM core prices each rank."""
    from archsim.dram.energy import energy_table
    pim = load_pim("hbm3-attacc")
    base, t = energy_table(pim.dram), pim.energy_table("fp16")
    assert t.pre_standby_pj_per_cycle == pytest.approx(4 * base.pre_standby_pj_per_cycle)
    assert t.act_standby_pj_per_cycle == pytest.approx(4 * base.act_standby_pj_per_cycle)
    assert t.per_command_pj["REFab"] == pytest.approx(4 * base.per_command_pj["REFab"])
    assert t.per_command_pj["ACTAB"] == pytest.approx(64 * base.per_command_pj["ACT"])
    one = load_pim("pim_gpt_gddr6")          # one rank per stream: unchanged
    assert one.energy_table("bf16").pre_standby_pj_per_cycle == \
        pytest.approx(energy_table(one.dram).pre_standby_pj_per_cycle)
