"""Validation metrics and calibration on synthetic measured traces with known parameters."""
import dataclasses
import json

import numpy as np
import pytest
import yaml

from archsim.engine.system import System
from archsim.errors import ArchsimError
from archsim.hardware import load_hardware
from archsim.mapping import Mapper
from archsim.trace.generate import generate_trace
from archsim.trace.io import save_trace
from archsim.validation.measured import kernel_time_s, validate
from archsim.validation.metrics import error_stats
from archsim.workload import load_workload

# the parameters that generate the synthetic measurements
TRUE = {"bandwidth_efficiency": 0.62, "compute_efficiency": 0.48, "launch_overhead": "3.5 us",
        "source": "synthetic ground truth",
        "per_kind": {"gemm": {"bandwidth_efficiency": 0.74, "compute_efficiency": 0.57},
                     "gemv": {"bandwidth_efficiency": 0.81},
                     "softmax": {"bandwidth_efficiency": 0.33},
                     "norm": {"bandwidth_efficiency": 0.41}}}


def hw_with(roofline):
    return load_hardware({"name": "h100_test", "devices": {
        "gpu0": {"extends": "h100_sxm", "roofline": roofline}}})


def workloads():
    # two models; a 1024-token prompt makes prefill FFN GEMMs compute bound on the H100 model
    big = {"extends": "gpt2_small", "name": "wide", "num_layers": 2, "hidden_size": 1024,
           "num_heads": 16, "ffn_size": 4096, "vocab_size": 1000, "max_positions": 2048}
    llama = {"extends": "llama2_7b", "name": "tiny-llama", "num_layers": 2, "hidden_size": 1024,
             "num_heads": 16, "num_kv_heads": 4, "ffn_size": 2816, "vocab_size": 1000}
    return [load_workload({"model": m, "batch_size": b, "prompt_tokens": p,
                           "generate_tokens": 6}) for m, b, p in
            ((big, 1, 1024), (big, 4, 256), (llama, 1, 1024), (llama, 2, 512))]


def measured_trace(w, hw, noise, rng):
    """Analytic trace of ``w`` with op kernel times and step wall times from ``hw``."""
    system = System(hw)
    mapper = Mapper(hw.placement, hw.devices)
    t = generate_trace(w)
    steps = []
    for s in t.steps:
        ops = []
        wall = 0.0
        for op in s.ops:
            dev = system.devices[mapper.assign(op)]
            k = kernel_time_s(dev, op) * 1e9
            wall += dev.op_cost(op).duration_ps / 1e3
            ops.append(dataclasses.replace(op, measured_ns=k * float(np.exp(rng.normal(0, noise)))))
        steps.append(dataclasses.replace(s, ops=tuple(ops), measured_ns=wall * (1 + rng.normal(
            0, noise / 4))))
    return dataclasses.replace(t, steps=tuple(steps), source="captured")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    d = tmp_path_factory.mktemp("synthetic")
    rng = np.random.default_rng(7)
    hw = hw_with(TRUE)
    paths = []
    for i, w in enumerate(workloads()):
        p = d / f"trace{i}.json.gz"
        save_trace(measured_trace(w, hw, 0.03, rng), p)
        paths.append(str(p))
    return paths


def test_roofline_terms_reproduce_op_cost():
    hw = hw_with(TRUE)
    dev = System(hw).devices["gpu0"]
    for s in generate_trace(workloads()[3]).steps[:2]:
        for op in s.ops:
            tm, tc = dev.roofline_terms(op)
            r = hw.devices["gpu0"].roofline
            k = r.per_kind.get(op.kind.value)
            be = k.bandwidth_efficiency if k and k.bandwidth_efficiency else r.bandwidth_efficiency
            ce = k.compute_efficiency if k and k.compute_efficiency else r.compute_efficiency
            floor = r.floor_for(op.kind.value)
            expect = (r.launch_overhead_s + max(floor, tm / be, tc / ce)) * 1e12
            assert abs(dev.op_cost(op).duration_ps - expect) <= 1.0
            assert kernel_time_s(dev, op) == pytest.approx(max(floor, tm / be, tc / ce))


def test_error_stats_signs_and_values():
    st = error_stats([2.0, 1.0, 3.0], [1.0, 2.0, 3.0])
    assert st["mape"] == pytest.approx(50.0)
    assert st["max_error"] == pytest.approx(100.0)
    assert st["bias"] == pytest.approx((100 - 50 + 0) / 3)
    assert error_stats([], [])["mape"] is None


def test_validate_exact_and_scaled(tmp_path):
    hw = hw_with(TRUE)
    t = measured_trace(workloads()[1], hw, 0.0, np.random.default_rng(0))
    rep = validate(hw, [t])
    assert rep["op_mape"] < 1e-6 and rep["step_mape"] < 1e-6
    assert set(rep["per_kind"]) >= {"gemm", "softmax", "norm"}
    # measured twice as long: the model is 50% fast on every op and step
    slow = dataclasses.replace(t, steps=tuple(dataclasses.replace(
        s, measured_ns=s.measured_ns * 2,
        ops=tuple(dataclasses.replace(o, measured_ns=o.measured_ns * 2) for o in s.ops))
        for s in t.steps))
    rep = validate(hw, [slow])
    assert rep["op_mape"] == pytest.approx(50.0) and rep["op_bias"] == pytest.approx(-50.0)
    assert rep["step_mape"] == pytest.approx(50.0)
    assert rep["per_model"] == {"wide": {"op_mape": pytest.approx(50.0),
                                         "step_mape": pytest.approx(50.0),
                                         "op_count": t.num_ops, "step_count": len(t.steps)}}


def test_validate_refuses_unmeasured_trace():
    with pytest.raises(ArchsimError, match="no measured times"):
        validate(hw_with(TRUE), [generate_trace(workloads()[1])])


def test_validate_command_json_and_plot(cli, synthetic, tmp_path, capsys):
    hwf = tmp_path / "hw.yaml"
    hwf.write_text(yaml.safe_dump({"name": "h100_test", "devices": {
        "gpu0": {"extends": "h100_sxm", "roofline": TRUE}}}))
    plot = tmp_path / "scatter.png"
    assert cli("validate", hwf, *synthetic[:2], "--json", "--plot", plot) == 0
    rep = json.loads(capsys.readouterr().out)
    for key in ("step_mape", "op_mape", "per_kind", "per_model", "per_phase", "op_count"):
        assert key in rep
    assert rep["op_mape"] < 5 and rep["step_mape"] < 5  # only the injected noise
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli("validate", hwf, synthetic[0], "--plot", tmp_path / "p.txt") == 2


@pytest.mark.parametrize("start", [
    {"bandwidth_efficiency": 0.85, "compute_efficiency": 0.70, "launch_overhead": "2 us",
     "source": "preset values"},
    {"bandwidth_efficiency": 0.2, "compute_efficiency": 0.95, "launch_overhead": "20 us",
     "source": "far off", "per_kind": {"gemv": {"bandwidth_efficiency": 0.1}}},
], ids=["preset", "far-off"])
def test_calibration_recovers_parameters(synthetic, tmp_path, start):
    from archsim.validation.calibrate import calibrate
    hwf = tmp_path / "start.yaml"
    hwf.write_text(yaml.safe_dump({"name": "h100_start", "devices": {
        "gpu0": {"extends": "h100_sxm", "roofline": start}}}))
    out = tmp_path / "cal" / "calibrated.yaml"
    rep = calibrate(hwf, synthetic, out, split_by="model", test_fraction=0.5)
    new = load_hardware(out).devices["gpu0"].roofline
    tol = 0.05
    assert new.launch_overhead_s == pytest.approx(3.5e-6, rel=tol)
    for kind, exp in TRUE["per_kind"].items():
        got = new.per_kind[kind]
        assert got.bandwidth_efficiency == pytest.approx(exp["bandwidth_efficiency"], rel=tol)
        if "compute_efficiency" in exp:
            assert got.compute_efficiency == pytest.approx(exp["compute_efficiency"], rel=tol)
    # kinds that follow the global values, and are memory bound: bandwidth efficiency
    for kind in ("elementwise", "activation", "attention_score", "attention_context"):
        be = new.per_kind[kind].bandwidth_efficiency if kind in new.per_kind and \
            new.per_kind[kind].bandwidth_efficiency else new.bandwidth_efficiency
        assert be == pytest.approx(0.62, rel=tol), kind
    # attention and element-wise ops are never compute bound: not identified, not written
    assert new.per_kind.get("softmax").compute_efficiency is None
    assert rep["split"]["by"] == "model" and len(rep["split"]["test"]) == 2
    assert rep["after"]["test"]["op_mape"] < 5 and rep["after"]["test"]["step_mape"] < 5
    assert rep["after"]["train"]["op_mape"] < rep["before"]["train"]["op_mape"]
    assert "held-out op MAPE" in new.source
    text = out.read_text()
    assert "extends: h100_sxm" in text


def test_calibration_is_split_by_shape_and_reports_errors(cli, synthetic, tmp_path, capsys):
    out = tmp_path / "c.yaml"
    hwf = "hw_configs/gpu_h100_sxm.yaml"
    import os
    hwf = os.path.join(os.path.dirname(__file__), "..", "..", hwf)
    assert cli("calibrate", hwf, *synthetic, "-o", out, "--split-by", "shape") == 0
    text = capsys.readouterr().out
    assert "train: op MAPE" in text and "test: op MAPE" in text
    load_hardware(out)
    # one model only: no held-out model possible, and nothing written
    bad = tmp_path / "bad.yaml"
    assert cli("calibrate", hwf, synthetic[0], synthetic[1], "-o", bad, "--split-by",
               "model") == 2
    assert "same model" in capsys.readouterr().err and not bad.exists()
