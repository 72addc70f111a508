"""archsim calibrate refuses to write a fit that cannot be trusted, and keeps the old file."""
import dataclasses

import pytest
import yaml

from archsim.engine.system import System
from archsim.hardware import load_hardware
from archsim.trace.generate import generate_trace
from archsim.trace.io import save_trace
from archsim.validation.calibrate import CalibrationRefused, _refuse_if_bad
from archsim.validation.measured import kernel_time_s
from archsim.workload import load_workload

PEAK_ROOFLINE = {"bandwidth_efficiency": 1.0, "compute_efficiency": 1.0,
                 "launch_overhead": "2 us", "source": "test"}


def faster_than_peak_trace(path, speedup):
    """A trace whose every kernel is ``speedup`` times faster than the H100 at its peaks."""
    hw = load_hardware({"name": "h", "devices": {"gpu0": {"extends": "h100_sxm",
                                                          "roofline": PEAK_ROOFLINE}}})
    gpu = System(hw).devices["gpu0"]
    w = load_workload({"model": {"extends": "gpt2_small", "name": "two-layer", "num_layers": 2},
                       "batch_size": 1, "prompt_tokens": 64, "generate_tokens": 3})
    t = generate_trace(w)
    steps = []
    for s in t.steps:
        ops = tuple(dataclasses.replace(op, measured_ns=kernel_time_s(gpu, op) * 1e9 / speedup)
                    for op in s.ops)
        wall = sum(gpu.op_cost(op).duration_ps for op in s.ops) / 1e3 / speedup
        steps.append(dataclasses.replace(s, ops=ops, measured_ns=wall))
    save_trace(dataclasses.replace(t, steps=tuple(steps), source="captured"), path)
    return str(path)


def test_a_fit_at_a_bound_is_refused_and_the_old_file_kept(cli, tmp_path, capsys):
    # measured kernels twice as fast as the datasheet peaks: only an efficiency above 1 would
    # fit, the search stops at 1, and such a "calibration" must not be written
    trace = faster_than_peak_trace(tmp_path / "fast.json.gz", 2.0)
    hwf = tmp_path / "start.yaml"
    hwf.write_text(yaml.safe_dump({"name": "start", "devices": {"gpu0": {
        "extends": "h100_sxm", "roofline": PEAK_ROOFLINE}}}))
    out = tmp_path / "calibrated.yaml"
    out.write_text("# the previous calibration\n")
    assert cli("calibrate", hwf, trace, "-o", out, "--test-fraction", "0") == 2
    err = capsys.readouterr().err
    assert "calibration refused" in err and "at a bound" in err
    assert "bandwidth_efficiency = 1" in err
    assert out.read_text() == "# the previous calibration\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_a_fit_worse_than_its_start_is_refused():
    fit = {"gpu0": {"global": {"be": 0.8, "ce": 0.6, "be_identified": True,
                               "ce_identified": True},
                    "per_kind": {}, "launch_overhead_s": 2e-6}}
    start = {"op_rms_log_error": 0.9, "step_rms_log_error": 0.4}
    _refuse_if_bad(fit, start, {"op_rms_log_error": 0.3, "step_rms_log_error": 0.4},
                   "out.yaml")  # better ops, equal steps: accepted
    with pytest.raises(CalibrationRefused, match=r"worse than the starting point.*step RMS log "
                       r"error 0.400 -> 0.500.*out.yaml not written"):
        _refuse_if_bad(fit, start, {"op_rms_log_error": 0.3, "step_rms_log_error": 0.5},
                       "out.yaml")
    clipped = {"gpu0": dict(fit["gpu0"], launch_overhead_clipped=True)}
    with pytest.raises(CalibrationRefused, match="launch_overhead clipped at 0"):
        _refuse_if_bad(clipped, start, start, "out.yaml")
