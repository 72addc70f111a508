import dataclasses
import textwrap
import time

import numpy as np
import pytest

from archsim.dram.checker import check_log
from archsim.pim import (clear_memo, gemv_command_log, list_pims, load_pim, simulate_gemv)
from archsim.errors import ConfigError


def test_aim_like_config_reports_1_tflops_peak():
    p = load_pim("gddr6-aim")
    assert p.n_channels * p.units_per_channel == 32 and p.config.mac.lanes == 16
    assert p.config.mac.clock_hz == 1e9
    assert p.peak_flops == pytest.approx(32 * 16 * 1e9 * 2)  # 1.024e12


def test_single_block_timing_follows_the_pim_rules():
    p = load_pim("gddr6-aim")
    p = dataclasses.replace(p, config=dataclasses.replace(p.config, refresh=False))
    t = p.timings
    r = simulate_gemv(p, rows=p.units_per_channel, cols=16, channels=1, memo=False)
    wrgb, act = 0, 1
    mac = max(act + t["nRCD_AB"], wrgb + t["nWRGB_MAC"])
    rd = mac + t["nMAC_RD"]
    pre = max(act + t["nRAS"], mac + t["nRTP"], rd + t["nRTP"])
    assert r.cycles == pre + 1
    assert r.commands == {"WRGB": 1, "ACTAB": 1, "MACAB": 1, "RDMAC": 1, "PREA": 1}


def test_mac_rate_bounded_by_units_and_power_limit():
    npc = simulate_gemv("hbm3-attacc-npc", 4096, 4096, memo=False)
    pc = simulate_gemv("hbm3-attacc", 4096, 4096, memo=False)
    assert pc.cycles > npc.cycles
    units = load_pim("hbm3-attacc").units_per_channel  # one MACAB drives every unit
    assert pc.commands["MACAB"] == npc.commands["MACAB"] == 4096 * 4096 // (16 * units)
    for r in (npc, pc):
        assert 0 < r.utilization <= 1


def test_memoized_equals_full_simulation():
    clear_memo()
    shapes = [(1600, 6400), (6400, 1600), (1024, 64), (64, 1024), (50257, 1600), (33, 17)]
    for pim in list_pims():
        for rows, cols in shapes:
            full = simulate_gemv(pim, rows, cols, memo=False)
            first = simulate_gemv(pim, rows, cols)
            again = simulate_gemv(pim, rows, cols)
            assert again is first
            assert full == first  # cycles, counts, energy report all equal


def test_numba_and_python_twin_agree_and_logs_pass_the_checker():
    p = load_pim("gddr6-aim")
    a = gemv_command_log(p, 200, 3000, engine="numba")
    b = gemv_command_log(p, 200, 3000, engine="python")
    assert np.array_equal(a.as_array(), b.as_array())
    assert check_log(p, a) == []
    for name in ("hbm3-attacc", "hbm3-attacc-npc"):
        q = load_pim(name)
        assert check_log(q, gemv_command_log(q, 3000, 2500)) == []
    # injected violation: a MACAB moved next to its ACTAB
    cmd = a.command
    i = int(np.flatnonzero(cmd == 10)[0])
    cyc = a.cycle.copy()
    cyc[i] = cyc[i - 1] + 1
    v = check_log(p, dataclasses.replace(a, cycle=cyc))
    assert any("ACTAB@" in x.message for x in v)


def test_refresh_inserted_in_long_gemv():
    r = simulate_gemv("gddr6-aim", 8192, 8192, memo=False)
    p = load_pim("gddr6-aim")
    expect = r.cycles / p.dram.timings["nREFI"] * p.n_channels
    assert abs(r.commands["REFab"] - expect) <= 0.05 * expect + p.n_channels


def test_energy_is_counts_times_table():
    r = simulate_gemv("gddr6-aim", 512, 2048, memo=False)
    e = r.energy
    assert e.counts == r.commands
    by_hand = sum(n * e.table.per_command_pj[k] for k, n in e.counts.items())
    assert sum(e.command_pj.values()) == pytest.approx(by_hand)
    assert r.energy_pj == pytest.approx(by_hand + e.background_pj + e.io_pj)
    assert e.table.per_command_pj["MACAB"] > e.table.per_command_pj["RD"]


def test_many_shapes_are_fast_with_memoization():
    """A PIM-GPT-like workload: 48 layers x 1024 tokens of attention GEMVs plus weights."""
    clear_memo()
    p = load_pim("gddr6-aim")
    t0 = time.perf_counter()
    total = 0
    for tok in range(1, 1025):
        for _layer in range(48):
            for rows, cols in ((4800, 1600), (1600, 1600), (6400, 1600), (1600, 6400),
                               (tok, 64), (64, tok)):
                total += simulate_gemv(p, rows, cols).cycles
    assert time.perf_counter() - t0 < 10  # PIM-GPT budget
    assert total > 0


def test_bad_pim_config(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(textwrap.dedent("""\
        extends: gddr6-aim
        mac:
          clock: "1 GB"
    """))
    with pytest.raises(ConfigError) as ei:
        load_pim(str(f))
    assert ei.value.key == "mac.clock" and ei.value.line == 3
    with pytest.raises(ConfigError, match="dtype"):
        simulate_gemv("gddr6-aim", 10, 10, "int3")


def test_organisation_override_in_the_pim_config(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("extends: gddr6-aim\norganization:\n  channels: 8\n  source: test\n")
    p = load_pim(str(f))
    assert p.n_channels == 8 and load_pim("gddr6-aim").n_channels == 2
    assert p.dram.timings == load_pim("gddr6-aim").dram.timings
    assert p.peak_flops == pytest.approx(4 * load_pim("gddr6-aim").peak_flops)
    f.write_text("extends: gddr6-aim\norganization:\n  channels: 3\n  source: test\n")
    with pytest.raises(ConfigError) as ei:
        load_pim(str(f))
    assert ei.value.key == "organization.channels" and ei.value.line == 3
    f.write_text("extends: gddr6-aim\norganization:\n  banks: 8\n  source: test\n")
    with pytest.raises(ConfigError) as ei:
        load_pim(str(f))
    assert "banks" in ei.value.key


def test_macab_energy_parameter_and_idd4r_default(tmp_path):
    aim = load_pim("gddr6-aim")
    base = aim.energy_table("bf16")
    assert base.per_command_pj["MACAB"] == pytest.approx(1310.0)  # CENT's MAC16
    # without the parameter: every bank's column read priced as a full read (IDD4R) + lane MACs
    att = load_pim("hbm3-attacc")
    t = att.energy_table("fp16")
    from archsim.dram.energy import energy_table
    rd = energy_table(att.dram).per_command_pj["RD"]
    assert t.per_command_pj["MACAB"] == pytest.approx(
        att.banks_per_rank * rd + att.units_per_channel * 16 * t.mac_pj)
    f = tmp_path / "p.yaml"
    f.write_text("extends: hbm3-attacc\nmac:\n  macab_energy: \"3 nJ\"\n")
    with pytest.raises(ConfigError, match="source"):
        load_pim(str(f))
    f.write_text("extends: gddr6-aim\nmac:\n  macab_energy: \"10 pJ\"\n  macab_energy_source: x\n")
    with pytest.raises(ConfigError) as ei:
        load_pim(str(f))
    assert ei.value.key == "mac.macab_energy" and ei.value.line == 3
