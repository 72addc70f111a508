"""The PIM device kind: op -> GEMV mapping, command counts, energy, memo, timing checker."""
import math

import pytest

from archsim.config.presets import load_preset
from archsim.config.schema import from_located
from archsim.devices.pim import Pim, PimDeviceConfig
from archsim.dram.checker import check_log
from archsim.pim.gemv import gemv_command_log, simulate_gemv
from archsim.pim.spec import DTYPE_BYTES
from archsim.errors import ConfigError
from archsim.trace.counting import attention, elementwise, matmul
from archsim.trace.schema import OpKind


@pytest.fixture(scope="module")
def pim():
    cfg = from_located(PimDeviceConfig, load_preset("devices", "pim_gpt_dram"))
    return Pim("pim", cfg)


@pytest.fixture(scope="module")
def pim_per_head(pim):
    import dataclasses
    return Pim("pim", dataclasses.replace(pim.config, attention_mapping="per_head"))


def test_organisation_is_pim_gpt(pim):
    s = pim.spec
    assert s.n_channels == 8 and s.units_per_channel == 16 and s.banks_per_rank == 16
    assert s.config.mac.lanes == 16 and s.config.mac.dtype == "bf16"
    # 8 ch x 16 units x 16 lanes x 1 GHz x 2 FLOP
    assert s.peak_flops == pytest.approx(4.096e12)


def _expected_counts(spec, rows, cols, db):
    """Command counts from the layout alone (independent of the DRAM core's layout code).

    The preset's mapping: R result registers, results accumulated across DRAM rows. A
    channel's row groups run in batches of R; each batch takes every segment (odd batches in
    reverse), the buffer re-written for each segment except the one it already holds (the last
    of the previous batch); each group's results are read once."""
    ab = spec.org.access_bytes
    seg = min(int(spec.org.row_size_bytes), int(spec.config.global_buffer_bytes)) // db
    nseg = math.ceil(cols / seg)
    lens = [min(seg, cols - i * seg) for i in range(nseg)]
    w = [math.ceil(ln * db / ab) for ln in lens]
    ch, U = spec.n_channels, spec.units_per_channel
    m = spec.config.mapping
    assert m.accumulate_across_rows and m.gemv_split == "rows"
    per_ch = [math.ceil((rows // ch + (c < rows % ch)) / U) for c in range(ch)]
    groups = sum(per_ch)
    acts = groups * nseg
    wrgb = 0
    for g in per_ch:
        batches = math.ceil(g / m.result_registers)
        if batches:   # only channels that hold rows get the input vector
            wrgb += sum(w) + sum(sum(w) - w[nseg - 1 if b % 2 == 0 else 0]
                                 for b in range(batches - 1))
    return {"ACTAB": acts, "PREA": acts, "MACAB": groups * sum(w), "WRGB": wrgb,
            "RDMAC": groups * math.ceil(U * spec.config.mac.result_bytes / ab)}


@pytest.mark.parametrize("rows,cols", [(2304, 768), (768, 3072), (50257, 1600), (1000, 1),
                                       (7, 4096)])
def test_weight_gemv_time_bound_and_counts(pim, rows, cols):
    op = matmul(0, "w", 0, 1, rows, cols, "fp16", "fp16", (), bias=False)
    c = pim.op_cost(op)
    res = pim.simulate(rows, cols, "bf16")
    bound_s = rows * cols / pim.spec.peak_macs_per_s
    assert c.duration_ps * 1e-12 >= bound_s * (1 - 1e-12)
    assert c.duration_ps == math.ceil(res.cycles * pim.spec.tck_s * 1e12 - 1e-6)
    exp = _expected_counts(pim.spec, rows, cols, DTYPE_BYTES["bf16"])
    got = {k: res.commands.get(k, 0) for k in exp}
    assert got == exp
    assert c.actions["macs_useful"] == rows * cols


def test_gemm_rows_run_one_after_another(pim):
    one = pim.op_cost(matmul(0, "w", 0, 1, 512, 256, "fp16", "fp16", (), bias=False))
    three = pim.op_cost(matmul(0, "w", 0, 3, 512, 256, "fp16", "fp16", (), bias=False))
    assert three.duration_ps == pytest.approx(3 * one.duration_ps, abs=3)
    assert three.actions["cmd.ACTAB"] == 3 * one.actions["cmd.ACTAB"]


@pytest.mark.parametrize("kv_heads", [12, 4, 1])
def test_attention_mapping_per_head(pim_per_head, kv_heads):
    pim = pim_per_head
    sc = attention(0, "s", OpKind.ATTENTION_SCORE, 0, 2, 12, kv_heads, 1, 300, 64, "fp16",
                   "fp16", ())
    cx = attention(0, "c", OpKind.ATTENTION_CONTEXT, 0, 2, 12, kv_heads, 1, 300, 64, "fp16",
                   "fp16", ())
    # every query head has its own input vector: 2 sequences x 12 heads GEMVs, GQA or not
    assert pim.gemvs(sc) == [(24, 300, 64)]
    assert pim.gemvs(cx) == [(24, 64, 300)]
    k = pim.simulate(300, 64, "bf16")
    assert pim.op_cost(sc).actions["cmd.WRGB"] == 24 * k.commands["WRGB"]
    assert pim.op_cost(sc).duration_ps == math.ceil(24 * k.cycles * 500 - 1e-6)


@pytest.mark.parametrize("rows,cols", [(2304, 768), (300, 64), (64, 1000), (1600, 6400)])
def test_energy_counts_times_table_reproduce_gemv_energy(pim, rows, cols):
    res = pim.simulate(rows, cols, "bf16")
    acts = pim.gemv_actions(res)
    table = pim.energy_table()
    priced = sum(n * table[a] for a, n in acts.items() if a in table)
    static = pim.static_power_w() * res.time_s * 1e12
    assert priced + static == pytest.approx(res.energy.total_pj, rel=1e-12)
    # the split of MACAB into bank reads and lane MACs adds up to the core's per-command energy
    t = res.energy.table
    elems = pim.spec.org.access_bytes // 2
    assert table["cmd.MACAB"] + pim.spec.units_per_channel * elems * table["mac"] == \
        pytest.approx(t.per_command_pj["MACAB"], rel=1e-12)
    # informational counts are not priced
    assert "macs_useful" not in table and "gemv" not in table


def test_memoized_equals_fresh(pim):
    a = simulate_gemv(pim.spec, 1280, 5120, "bf16", memo=True)
    b = simulate_gemv(pim.spec, 1280, 5120, "bf16", memo=False)
    assert (a.cycles, a.commands, a.energy.total_pj) == (b.cycles, b.commands, b.energy.total_pj)


@pytest.mark.parametrize("rows,cols", [(2304, 768), (768, 3072), (257, 64), (64, 257)])
def test_command_log_passes_independent_checker(pim, rows, cols):
    log = gemv_command_log(pim.spec, rows, cols, "bf16")
    assert check_log(pim.spec, log) == []
    res = pim.simulate(rows, cols, "bf16")
    names = [pim.spec.command_set.names[c] for c in log.command]
    counts = {k: names.count(k) for k in set(names)}
    assert counts == res.commands
    assert int(log.cycle.max()) < res.cycles


def test_non_matmul_op_on_pim_is_a_clear_error(pim):
    op = elementwise(5, "L3.softmax", OpKind.SOFTMAX, 3, 12, 100, "softmax", "fp16", ())
    with pytest.raises(ConfigError) as e:
        pim.op_cost(op)
    assert "L3.softmax" in e.value.message and "'pim'" in e.value.message


def test_dtype_without_alias_is_an_error(pim):
    op = matmul(0, "L0.qkv_proj", 0, 1, 64, 64, "fp32", "fp32", (), bias=False)
    with pytest.raises(ConfigError, match="L0.qkv_proj.*fp32"):
        pim.op_cost(op)


def test_fp16_costs_the_same_as_bf16(pim):
    a = pim.op_cost(matmul(0, "w", 0, 1, 640, 320, "fp16", "fp16", (), bias=False))
    b = pim.op_cost(matmul(0, "w", 0, 1, 640, 320, "bf16", "bf16", (), bias=False))
    assert a == b


def test_accepts_only_pim_kinds(write):
    from archsim.hardware import load_hardware
    p = write("hw.yaml", "name: x\ndevices:\n  pim: {extends: pim_gpt_dram, accepts: [softmax]}\n")
    with pytest.raises(ConfigError, match="accepts"):
        load_hardware(p)


@pytest.mark.parametrize("kv_heads", [12, 4])
def test_concat_heads_mapping_for_scores(pim, pim_per_head, kv_heads):
    from archsim.pim.attention import simulate_scores_concat
    assert pim.config.attention_mapping == "concat_heads"  # PIM-GPT preset default
    sc = attention(0, "s", OpKind.ATTENTION_SCORE, 0, 2, 12, kv_heads, 1, 300, 64, "fp16",
                   "fp16", ())
    cx = attention(0, "c", OpKind.ATTENTION_CONTEXT, 0, 2, 12, kv_heads, 1, 300, 64, "fp16",
                   "fp16", ())
    # one multi-head stream per sequence; the context keeps one GEMV per head
    assert pim.gemvs(sc) == [(2, 3600, 64)]
    assert pim.op_cost(cx) == pim_per_head.op_cost(cx)
    res = simulate_scores_concat(pim.spec, 300, 64, kv_heads, 12 // kv_heads, "bf16")
    cat, old = pim.op_cost(sc), pim_per_head.op_cost(sc)
    assert cat.duration_ps == math.ceil(2 * res.cycles * 500 - 1e-6)
    assert cat.actions["cmd.MACAB"] == old.actions["cmd.MACAB"]
    assert cat.actions["cmd.ACTAB"] < old.actions["cmd.ACTAB"]
    assert cat.duration_ps < old.duration_ps
    assert cat.actions["macs_useful"] == old.actions["macs_useful"] == 2 * 12 * 300 * 64
    # energy as counts x table still reproduces the core's energy
    acts = pim.gemv_actions(res)
    table = pim.energy_table()
    priced = sum(n * table[a] for a, n in acts.items() if a in table)
    assert priced + pim.static_power_w() * res.time_s * 1e12 == \
        pytest.approx(res.energy.total_pj, rel=1e-12)


def test_organisation_set_in_the_pim_config_not_the_device(pim):
    assert pim.config.organization is None and pim.spec.config.organization.channels == 8
