"""The fpga device kind: resources, DSP packing, sparse and low-bit work, HBM channels as
simulated, energy as counts x table, and bad designs refused with file:line:key errors."""
import math
import numpy as np
import pytest

from archsim.cli import main
from archsim import Simulator, generate_trace, load_hardware, load_workload, run
from archsim.errors import ConfigError
from archsim.fpga import hbm

HBM = "hbm2_u280"
SMALL = {"batch_size": 1, "prompt_tokens": 16, "generate_tokens": 3}


@pytest.fixture
def flightllm(root):
    return str(root / "hw_configs" / "fpga_u280_flightllm.yaml")


@pytest.fixture
def accllm(root):
    return str(root / "hw_configs" / "fpga_u280_accllm.yaml")


def _device(path, *overrides):
    return Simulator(load_hardware(path, list(overrides))).system.devices["fpga"]


def _wl(root, name, **extra):
    return load_workload({"extends": str(root / "workloads" / name), **SMALL, **extra})


def test_the_u280_part_and_the_flightllm_design_fit(flightllm):
    cfg = load_hardware(flightllm).devices["fpga"]
    assert (cfg.part.dsp, cfg.part.lut, cfg.part.bram36, cfg.part.uram) == \
        (9024, 1303680, 2016, 960)
    use = cfg.resource_use()
    # MV 3 x 64 x 16 lanes and MM 3 x 2 x 128 x 16 lanes at four 4-bit multiplies per DSP
    assert use["dsp"] == 4 + 3 * 1024 // 4 + 3 * 4096 // 4 + 3 * 32
    assert use["uram"] == math.ceil(4 * 2**20 / 36864) + math.ceil(3 * 2**20 / 36864) + \
        math.ceil(2**20 / 36864)


@pytest.mark.parametrize("override, where, message", [
    ("mv: {cores: 30}", "devices.fpga", "needs 10852 DSP but the part Alveo U280 has 9024 "
     "(shell 4; mv 7680, mm 3072)"),
    ("buffers: {activations: {size: 40 MiB}}", "devices.fpga", "needs 1253 URAM but the part"),
    ("hbm: {kv: 8}", "devices.fpga.hbm", "uses 36 HBM pseudo-channels (28 weights + 8 kv) but "
     "the part Alveo U280 has 32"),
])
def test_a_design_over_the_parts_resources_is_refused_with_file_line_key(
        flightllm, write, capsys, override, where, message):
    bad = write("bad.yaml", f"extends: {flightllm}\ndevices:\n  fpga:\n    {override}\n")
    assert main(["check", bad]) == 2
    err = capsys.readouterr().err
    assert err.startswith("archsim: error: ") and "Traceback" not in err
    assert f": {where}: " in err and message in err
    import re
    assert re.match(r"archsim: error: \S+:\d+: ", err)            # FILE:LINE


def test_too_many_channels_from_the_command_line(flightllm):
    with pytest.raises(ConfigError, match="36 HBM pseudo-channels"):
        load_hardware(flightllm, ["devices.fpga.hbm.kv=8"])


def test_a_bit_width_the_engine_cannot_multiply_is_refused(flightllm, root):
    w = _wl(root, "llama2_7b_flightllm.yaml", precision={"weights": "int2"})
    with pytest.raises(ConfigError, match="needs int2 x int8 multiplies but the mm unit"):
        run(flightllm, w)


def test_sparse_weights_on_an_engine_that_cannot_skip_zeros_are_refused(flightllm, root):
    w = _wl(root, "llama2_7b_accllm.yaml")
    with pytest.raises(ConfigError, match="cannot skip zeros of that pattern"):
        run(flightllm, w)


def test_dsp_packing_sets_the_compute_rate(flightllm, root):
    """A compute-bound GEMM: INT8 weights (2 per DSP) take twice the cycles of INT4 (4 per
    DSP) on the same MM array."""
    dev = _device(flightllm)
    t = generate_trace(_wl(root, "llama2_7b_flightllm.yaml", prompt_tokens=256))
    up4 = next(op for op in t.steps[0].ops if op.name == "L0.ffn_up")
    import dataclasses
    up8 = dataclasses.replace(up4, weight_dtype="int8")
    c4, c8 = dev.op_cost(up4), dev.op_cost(up8)
    steps = math.ceil(256 / 2) * math.ceil(2 * 11008 / 128) * math.ceil(4096 / 16)
    assert c4.actions["cycles"] == math.ceil(steps / 3)
    assert c8.actions["cycles"] == math.ceil(steps * 2 / 3)


def test_two_four_sparsity_halves_the_mv_work(accllm, root):
    dev = _device(accllm)
    t = generate_trace(_wl(root, "llama2_7b_accllm.yaml"))
    up = next(op for op in t.steps[1].ops if op.name == "L0.ffn_up")
    c = dev.op_cost(up)
    # 22016 outputs in 64-wide tiles, 4096 / 2 kept inputs in 16-wide tiles, 3 cores
    assert c.actions["cycles"] == math.ceil(math.ceil(22016 / 64) * (2048 // 16) / 3)
    assert c.actions["macs"] == 22016 * 2048


def test_fewer_hbm_channels_give_less_bandwidth_as_simulated():
    nbytes = 64 * 2**20
    t = {k: hbm.stream(HBM, k, nbytes).cycles * hbm.clock_s(HBM) for k in (4, 8, 16, 28)}
    bw = {k: nbytes / v for k, v in t.items()}
    assert bw[4] < bw[8] < bw[16] < bw[28]
    for k, b in bw.items():          # sequential streams: near the PCs' 14.4 GB/s each
        assert 0.9 * hbm.peak_bytes_per_s(HBM, k) < b <= hbm.peak_bytes_per_s(HBM, k)


def test_a_strided_kv_read_is_slower_than_a_sequential_one_as_simulated():
    seq = hbm.efficiency(HBM, 4)
    strided = hbm.efficiency(HBM, 4, chunk=128, stride=4096)   # one head of token-major KV
    assert seq > 0.95 and strided < 0.5 * seq


def test_long_streams_extrapolate_the_simulated_steady_state():
    """The affine model through two simulated lengths matches an exact simulation of a longer
    stream within 1 %."""
    per = 6 * hbm.PROFILE_BYTES_PER_CHANNEL
    exact = hbm.simulate_stream(HBM, 2, per, 0, 0, False)
    hbm._profile.cache_clear()
    model = hbm.stream(HBM, 2, 2 * per)
    assert model.cycles == pytest.approx(exact.cycles, rel=0.01)
    assert model.commands["RD"] == pytest.approx(exact.commands["RD"], rel=1e-9)


def test_energy_is_counts_times_table_plus_static_power(flightllm, root):
    res = run(flightllm, _wl(root, "llama2_7b_flightllm.yaml"))
    dev = _device(flightllm)
    table = dev.energy_table()
    info = dev.informational_actions()
    dynamic = sum(n * table[a] * 1e-12 for (d, _, a), n in res.actions.items() if a not in info)
    static = dev.static_power_w() * res.latency_s
    assert res.energy_j == pytest.approx(dynamic + static, rel=1e-9)
    # the HBM part of the table is the DRAM core's: a stream's commands x table = its energy
    from archsim.dram import simulate
    spec = hbm.load_hbm(HBM)
    addr = np.arange(4096, dtype=np.int64) * 32
    r = simulate(spec, addr, np.zeros(len(addr), bool))
    priced = sum(n * table[f"hbm.{k}"] for k, n in r.commands.items()) + \
        r.bytes * 8 * table["hbm.io_bit"]
    assert priced == pytest.approx(sum(r.energy.command_pj.values()) + r.energy.io_pj)


def test_both_design_points_run_and_accllm_is_faster(flightllm, accllm, root):
    f = run(flightllm, _wl(root, "llama2_7b_flightllm.yaml"))
    a = run(accllm, _wl(root, "llama2_7b_accllm.yaml"))
    assert 0 < f.tokens_per_s < a.tokens_per_s
    assert 25 < f.average_power_w < 225 and 25 < a.average_power_w < 225


def test_the_parts_hbm_spec_must_match_its_datasheet(flightllm):
    with pytest.raises(ConfigError, match="peaks at 460.8 GB/s, the part's datasheet at 300.0"):
        load_hardware(flightllm, ["devices.fpga.part.hbm_bandwidth=300 GB/s"])
    with pytest.raises(ConfigError, match="has 32 pseudo-channels, the part 16"):
        load_hardware(flightllm, ["devices.fpga.part.hbm_pseudo_channels=16"])


def test_activations_the_arrays_do_not_multiply_are_refused(flightllm, root):
    w = _wl(root, "llama2_7b_flightllm.yaml", precision={"activations": "fp16"})
    with pytest.raises(ConfigError, match="has fp16 activations but the mm unit"):
        run(flightllm, w)


def test_dfx_like_tensor_parallelism_over_the_qsfp_ring_speeds_up_decoding(root):
    w = {"extends": str(root / "workloads" / "gpt2_medium_dfx.yaml"), "prompt_tokens": 16,
         "generate_tokens": 3}
    one = run(str(root / "hw_configs" / "dfx_u280_x1.yaml"), w)
    four = run(str(root / "hw_configs" / "dfx_u280_x4.yaml"), w)
    assert four.tpot_s["mean"] < 0.6 * one.tpot_s["mean"]
    links = four.energy_breakdown_j()["links"]
    assert links and all(v > 0 for v in links.values())    # all-reduces crossed the ring
