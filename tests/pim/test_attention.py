"""Head concatenation for attention scores: layout counts, timing checker, memo, fallbacks."""
import math

import numpy as np
import pytest

from archsim.dram.checker import check_log
from archsim.pim.gemv import simulate_gemv
from archsim.pim.spec import load_pim
from archsim.pim.attention import (head_layout, scores_concat_command_log,
                                        simulate_scores_concat)


@pytest.fixture(scope="module")
def pim():
    return load_pim("pim_gpt_gddr6")


def _expected(spec, C, d, hkv, g):
    """Counts from the documented layout (written independently of the stream code)."""
    ch, U = spec.n_channels, spec.units_per_channel
    slot = math.ceil(d / 16) * 16
    hpr = min(hkv, 1024 // slot)
    groups = [min(hpr, hkv - i) for i in range(0, hkv, hpr)]
    tg = sum(math.ceil((C // ch + (c < C % ch)) / U) for c in range(ch))
    resident = hpr * g * slot <= 1024
    vec = sum(groups) * g
    # only channels that hold tokens get the query slices
    wrgb = min(ch, C) * sum(math.ceil(n * g * slot * 2 / 32) for n in groups) if resident \
        else tg * vec * slot * 2 // 32
    return {"ACTAB": tg * len(groups), "PREA": tg * len(groups), "MACAB": tg * vec * slot // 16,
            "RDMAC": tg * vec, "WRGB": wrgb}


@pytest.mark.parametrize("C,d,hkv,g", [(1024, 64, 12, 1), (1024, 64, 25, 1), (700, 96, 16, 1),
                                       (300, 128, 16, 1), (257, 64, 4, 4), (5, 80, 20, 1)])
def test_counts_follow_the_layout_and_log_passes_checker(pim, C, d, hkv, g):
    res = simulate_scores_concat(pim, C, d, hkv, g, "bf16")
    exp = _expected(pim, C, d, hkv, g)
    assert {k: res.commands.get(k, 0) for k in exp} == exp
    assert res.macs == C * d * hkv * g
    log = scores_concat_command_log(pim, C, d, hkv, g, "bf16")
    assert check_log(pim, log) == []
    names = [pim.command_set.names[c] for c in log.command]
    assert {k: names.count(k) for k in set(names)} == res.commands
    assert int(log.cycle.max()) < res.cycles


def test_python_twin_gives_the_same_log(pim):
    a = scores_concat_command_log(pim, 200, 64, 12, 1, "bf16", engine="numba")
    b = scores_concat_command_log(pim, 200, 64, 12, 1, "bf16", engine="python")
    assert np.array_equal(a.cycle, b.cycle) and np.array_equal(a.command, b.command)


def test_checker_sees_a_macab_moved_before_nrcd_ab(pim):
    log = scores_concat_command_log(pim, 256, 64, 12, 1, "bf16")
    i = int(np.flatnonzero(log.command == pim.command_set.id["MACAB"])[0])
    log.cycle[i] -= 1
    assert check_log(pim, log)


def test_one_activation_serves_several_heads(pim):
    cat = simulate_scores_concat(pim, 1024, 64, 12, 1, "bf16")
    one = simulate_gemv(pim, 1024, 64, "bf16")
    # up to 16 heads of 64 share a row: the 12 heads together activate as often as one alone
    assert cat.commands["ACTAB"] == one.commands["ACTAB"]
    assert cat.commands["MACAB"] == 12 * one.commands["MACAB"]
    assert cat.cycles < 12 * one.cycles


def test_memoized_equals_fresh(pim):
    a = simulate_scores_concat(pim, 999, 64, 25, 1, "bf16", memo=True)
    b = simulate_scores_concat(pim, 999, 64, 25, 1, "bf16", memo=False)
    assert (a.cycles, a.commands, a.energy.total_pj) == (b.cycles, b.commands, b.energy.total_pj)
    assert simulate_scores_concat(pim, 999, 64, 25, 1, "bf16") is a


def test_small_buffer_writes_each_slice_per_row(pim):
    lay = head_layout(pim, 64, 64, 16, 2, "bf16", pim.n_channels)
    assert lay.heads_per_row == 16 and not lay.resident  # 16 x 2 x 64 elements > 2 KB


def test_head_wider_than_a_row_falls_back(pim):
    assert simulate_scores_concat(pim, 64, 2048, 2, 1, "bf16") is None
