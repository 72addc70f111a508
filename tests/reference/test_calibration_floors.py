"""archsim calibrate fits one kernel floor per op kind when the data show one."""
import dataclasses

import numpy as np
import pytest
import yaml

from archsim.engine.system import System
from archsim.hardware import load_hardware
from archsim.trace.generate import generate_trace
from archsim.trace.io import save_trace
from archsim.validation.calibrate import calibrate
from archsim.validation.measured import kernel_time_s
from archsim.workload import load_workload

TRUE = {"bandwidth_efficiency": 0.7, "compute_efficiency": 0.6, "launch_overhead": "3 us",
        "source": "synthetic", "floor": "0 us", "floor_source": "synthetic",
        "per_kind": {"norm": {"floor": "6 us"}, "elementwise": {"floor": "4 us"}}}
START = {"bandwidth_efficiency": 0.85, "compute_efficiency": 0.7, "launch_overhead": "2 us",
         "source": "start"}


def trace(path, hw, w, rng):
    gpu = System(hw).devices["gpu0"]
    t = generate_trace(w)
    steps = []
    for s in t.steps:
        ops = tuple(dataclasses.replace(op, measured_ns=kernel_time_s(gpu, op) * 1e9
                                        * float(np.exp(rng.normal(0, 0.02)))) for op in s.ops)
        wall = sum(gpu.op_cost(op).duration_ps for op in s.ops) / 1e3
        steps.append(dataclasses.replace(s, ops=ops, measured_ns=wall))
    save_trace(dataclasses.replace(t, steps=tuple(steps), source="captured"), path)
    return str(path)


def test_floors_are_fitted_per_kind_and_kept_where_the_data_show_none(tmp_path):
    hw = load_hardware({"name": "h", "devices": {"gpu0": {"extends": "h100_sxm",
                                                          "roofline": TRUE}}})
    rng = np.random.default_rng(3)
    model = {"extends": "gpt2_small", "name": "two-layer", "num_layers": 2}
    paths = [trace(tmp_path / f"t{i}.json.gz", hw, load_workload(
        {"model": model, "batch_size": b, "prompt_tokens": p, "generate_tokens": 4}), rng)
        for i, (b, p) in enumerate(((1, 512), (4, 128)))]
    start = tmp_path / "start.yaml"
    start.write_text(yaml.safe_dump({"name": "s", "devices": {"gpu0": {
        "extends": "h100_sxm", "roofline": START}}}))
    out = tmp_path / "cal.yaml"
    rep = calibrate(start, paths, out, test_fraction=0)
    new = load_hardware(out).devices["gpu0"].roofline
    # decode norms and residual adds sit on their floors: both recovered within the grid step
    assert new.floor_for("norm") == pytest.approx(6e-6, rel=0.05)
    assert new.floor_for("elementwise") == pytest.approx(4e-6, rel=0.05)
    assert "fitted by archsim calibrate" in new.floor_source
    # the efficiencies come out right with the floors in place
    assert new.bandwidth_efficiency == pytest.approx(0.7, rel=0.05)
    assert new.launch_overhead_s == pytest.approx(3e-6, rel=0.05)
    assert rep["after"]["train"]["op_rms_log_error"] < 0.05
    # the start's 2 us preset floor (start.yaml extends h100_sxm) is too high for the small
    # decode GEMVs of this model; the data show no floor for them and the fit removes it
    assert load_hardware(start).devices["gpu0"].roofline.floor_for("gemv") == 2e-6
    assert new.floor_for("gemv") < 0.1e-6
