"""capture -> import -> validate -> calibrate, end to end on a tiny model on the CPU."""
import json
import os

import pytest

from archsim.hardware import load_hardware
from archsim.trace.io import load_trace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "fixtures", "kineto", "tiny_gpt2.yaml")
HW = os.path.join(ROOT, "hw_configs", "gpu_h100_sxm.yaml")


def test_capture_import_validate_calibrate(cli, tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "cap"
    assert cli("capture", TINY, "--device", "cpu", "-o", out, "--warmup", "1",
               "--set", "generate_tokens=5") == 0
    assert "captured 5 steps" in capsys.readouterr().out
    t = load_trace(out / "trace.json.gz")
    assert t.source == "captured" and len(t.steps) == 5
    assert all(s.measured_ns > 0 for s in t.steps)
    assert all(op.measured_ns > 0 for s in t.steps for op in s.ops)
    assert t.meta["capture"]["tokens_match_profiled_run"] is True
    assert t.meta["software"]["torch"] and t.meta["device"]["type"] == "cpu"
    # the raw Kineto file imports to the same per-op measurements
    imp = tmp_path / "imported.json"
    assert cli("import-kineto", out / "kineto.json.gz", "-o", imp) == 0
    t2 = load_trace(imp)
    assert [[o.measured_ns for o in s.ops] for s in t2.steps] == \
        [[o.measured_ns for o in s.ops] for s in t.steps]
    capsys.readouterr()
    assert cli("validate", HW, out / "trace.json.gz", "--json") == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["op_count"] == t.num_ops and rep["step_count"] == 5
    assert rep["op_mape"] is not None and rep["step_mape"] is not None
    # an H100 model fitted to a tiny model's CPU op times (host overhead of tens of us per op
    # against roofline terms of nanoseconds): depending on the timings, the fit either improves
    # on its start with every parameter inside its range, or it is refused and nothing is written
    capsys.readouterr()
    cal = tmp_path / "cal.yaml"
    rc = cli("calibrate", HW, out / "trace.json.gz", imp, "-o", cal, "--test-fraction", "0",
             "--json")
    if rc == 0:
        rep = json.loads(capsys.readouterr().out)
        r = load_hardware(cal).devices["gpu0"].roofline
        assert r.source.startswith("archsim calibrate")
        assert 1e-4 < r.bandwidth_efficiency < 1 and r.compute_efficiency > 1e-4
        before, after = rep["before"]["train"], rep["after"]["train"]
        assert after["op_rms_log_error"] <= before["op_rms_log_error"]
        assert after["step_rms_log_error"] <= before["step_rms_log_error"]
    else:
        assert rc == 2 and "calibration refused" in capsys.readouterr().err
        assert not cal.exists()


def test_capture_errors(cli, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        assert cli("capture", TINY, "--device", "cuda", "-o", tmp_path / "x") == 2
        assert "no CUDA GPU" in capsys.readouterr().err
    assert cli("capture", TINY, "--device", "cpu", "-o", tmp_path / "y",
               "--set", "precision.weights=int8") == 2
    assert "precision.weights" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
