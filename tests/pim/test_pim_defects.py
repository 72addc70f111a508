"""PIM defects named in issue 13: input writes to channels that hold no rows, and the
"no power constraint" AttAcc preset running 5 cycles per MAC command instead of 4."""
import numpy as np

from archsim.dram.checker import check_log
from archsim.pim import gemv_command_log, load_pim, simulate_gemv
from archsim.pim.attention import scores_concat_command_log, simulate_scores_concat


def test_channels_without_rows_get_no_input_vector():
    # 3 matrix rows over 8 channels: 5 channels hold nothing; before, each still received the
    # whole input vector (WRGB), 8 x where 3 x is needed
    pim = load_pim("hbm3-attacc")
    one = simulate_gemv(pim, rows=1, cols=4096, channels=1, memo=False)
    three = simulate_gemv(pim, rows=3, cols=4096, channels=8, memo=False)
    assert three.commands["WRGB"] == 3 * one.commands["WRGB"]
    log = gemv_command_log(pim, 3, 4096, channels=8)
    wrgb = pim.command_set.id["WRGB"]
    assert sorted(set(log.channel[log.command == wrgb].tolist())) == [0, 1, 2]
    assert check_log(pim, log) == []


def test_channels_without_tokens_get_no_query_slices():
    pim = load_pim("hbm3-attacc")
    res = simulate_scores_concat(pim, kv_len=2, head_dim=128, kv_heads=4, channels=8)
    log = scores_concat_command_log(pim, 2, 128, 4, channels=8)
    wrgb = pim.command_set.id["WRGB"]
    assert sorted(set(log.channel[log.command == wrgb].tolist())) == [0, 1]
    assert res.commands["WRGB"] == int((log.command == wrgb).sum())


def test_attacc_without_power_constraint_runs_4_cycles_per_mac_command():
    # nCCDAB 4 (AttAcc HBM3_5.2Gbps_NPC): the MAC units at 1 / (4 tCK) must not slow it to 5
    npc = load_pim("hbm3-attacc-npc")
    pc = load_pim("hbm3-attacc")
    assert npc.timings_for("fp16")["nCCD_AB_eff"] == 4
    assert pc.timings_for("fp16")["nCCD_AB_eff"] == 6
    # and the schedule shows it: consecutive MACABs of one row 4 cycles apart
    log = gemv_command_log(npc, 64, 1024, channels=1)
    mac = npc.command_set.id["MACAB"]
    cyc = log.cycle[log.command == mac]
    gaps = np.diff(cyc)
    assert gaps.min() == 4 and np.median(gaps) == 4
