"""Every command that can take long reports its progress on stderr (also when stderr is not a
terminal), huge ``dram`` and ``serve`` runs are refused up front without ``--force``, and
``serve`` errors about the workload name the file and line of the key.

The progress tests shrink :data:`archsim.progress.FIRST_LINE_S` and ``EVERY_S`` to 0, so that
a run of a fraction of a second reports as a run of minutes would."""
import json

import pytest

from archsim.cli import main

A100 = "hw_configs/gpu_a100_80gb.yaml"
GPT2 = "workloads/gpt2_small.yaml"


@pytest.fixture
def every_update(monkeypatch):
    import archsim.progress
    monkeypatch.setattr(archsim.progress, "FIRST_LINE_S", 0.0)
    monkeypatch.setattr(archsim.progress, "EVERY_S", 0.0)


def progress_lines(err: str, what: str) -> list:
    return [ln for ln in err.splitlines() if ln.startswith(f"archsim: {what}: ")]


# ---- archsim dram ----------------------------------------------------------------------------

def test_a_long_dram_run_reports_the_requests_simulated(capsys, every_update):
    assert main(["dram", "hbm2", "--requests", "20000", "--json"]) == 0
    out, err = capsys.readouterr()
    lines = progress_lines(err, "dram")
    # one line per channel controller run, the last when every request is simulated
    assert len(lines) > 1 and lines[-1].startswith("archsim: dram: 20000/20000 requests (100.0%)")
    assert json.loads(out)["requests"] == 20000        # stdout is the result alone


def test_reporting_progress_changes_no_dram_result():
    from archsim.dram import load_spec
    from archsim.dram.cli import random_requests
    from archsim.dram.controller import simulate
    from archsim.progress import LineProgress
    spec = load_spec("hbm2")
    addr, wr, _ = random_requests(spec, 5000, 0.7, 1)
    seen = []

    class Count(LineProgress):
        def update(self, k=1):
            seen.append(k)

    plain = simulate(spec, addr, wr, log=True)
    told = simulate(spec, addr, wr, log=True, progress=Count(5000, "request", "dram"))
    assert sum(seen) == 5000 and len(seen) > 1
    assert told.cycles == plain.cycles and (told.log.as_array() == plain.log.as_array()).all()


def test_a_short_dram_run_prints_no_progress(capsys):
    assert main(["dram", "hbm2", "--requests", "2000"]) == 0
    assert capsys.readouterr().err == ""


def test_a_huge_dram_run_is_refused_before_its_requests_are_generated(capsys, monkeypatch):
    import archsim.dram.cli as dram_cli

    def never(*a, **k):
        raise AssertionError("requests generated for a refused run")
    monkeypatch.setattr(dram_cli, "stream_requests", never)
    assert main(["dram", "hbm2", "--requests", "1000000000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("archsim: error: this DRAM run is too large: "
                                              "1,000,000,000 requests")
    assert "more than 500,000,000 requests" in err and "--force" in err


def test_force_lets_a_run_above_the_limits_through():
    from archsim.command_guards import check_work, estimate_dram
    est = estimate_dram(10_000)
    with pytest.raises(Exception, match="more than 100 requests"):
        check_work(est, max_units=100, hint="Use fewer")
    with pytest.raises(Exception, match="of memory"):
        check_work(est, max_units=10**9, hint="Use fewer", max_memory_bytes=1000)
    check_work(est, max_units=100, hint="Use fewer", force=True)


# ---- archsim serve ---------------------------------------------------------------------------

SERVE = ["serve", A100, GPT2, "--arrivals", "poisson:50", "--prompt-tokens", "16",
         "--output-tokens", "4"]


def test_a_long_serving_run_reports_the_requests_finished(capsys, every_update):
    assert main(SERVE + ["--requests", "12"]) == 0
    lines = progress_lines(capsys.readouterr().err, "serve")
    assert lines and lines[-1].startswith("archsim: serve: 12/12 requests (100.0%)")


def test_a_short_serving_run_prints_no_progress(capsys):
    assert main(SERVE + ["--requests", "3"]) == 0
    assert capsys.readouterr().err == ""


def test_a_huge_serving_run_is_refused_before_its_requests_are_generated(capsys, monkeypatch):
    import archsim.serving.sim as sim

    def never(*a, **k):
        raise AssertionError("requests generated for a refused run")
    monkeypatch.setattr(sim, "poisson_requests", never)
    assert main(SERVE + ["--requests", "30000000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("archsim: error: this serving run is too large: "
                                              "120,000,000 output tokens of 30,000,000 "
                                              "requests")
    assert "more than about 1,000 s" in err and "--force" in err


def test_the_serving_estimate_uses_the_mean_of_the_output_distribution():
    from archsim.command_guards import estimate_serve
    from archsim.serving import load_serve_config
    from archsim.workload import load_workload
    w = load_workload(GPT2)
    cfg = load_serve_config({"rate_per_s": 1.0, "requests": 1000,
                             "output_tokens": {"dist": "uniform", "low": 10, "high": 30}})
    assert estimate_serve(cfg, w).units == 20_000
    cfg = load_serve_config({"rate_per_s": 1.0, "requests": 1000})
    assert estimate_serve(cfg, w).units == 1000 * w.generate_tokens


def test_a_serving_error_about_the_workload_names_its_file_and_line(capsys, write):
    wl = write("windowed.yaml", "model: gpt2_small\nprompt_tokens: 16\ngenerate_tokens: 4\n"
                                "attention_window: {sink_tokens: 4, window_tokens: 32}\n")
    assert main(["serve", A100, wl, "--arrivals", "poisson:1", "--requests", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"archsim: error: {wl}:4: attention_window: serving with a sink + "
                          "window attention is not modelled")


def test_a_serving_error_from_a_set_override_names_the_override(capsys):
    assert main(["serve", A100, GPT2, "--arrivals", "poisson:1", "--requests", "2", "--set",
                 "attention_window={sink_tokens: 4, window_tokens: 32}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("archsim: error: --set: attention_window: serving with a sink")


# ---- archsim validate, calibrate, capture ----------------------------------------------------

def measured_gpt2(path, factor: float, generate_tokens: int = 6):
    """An analytic trace of a small GPT-2 on the A100 model, with every op and step measured
    ``factor`` times its simulated kernel and step time."""
    import dataclasses

    from archsim.engine.system import System
    from archsim.hardware import load_hardware
    from archsim.mapping import Mapper
    from archsim.trace.generate import generate_trace
    from archsim.trace.io import save_trace
    from archsim.validation.measured import kernel_time_s
    from archsim.workload import load_workload
    hw = load_hardware(A100)
    system, mapper = System(hw), Mapper(hw.placement, hw.devices)
    t = generate_trace(load_workload({"model": "gpt2_small", "prompt_tokens": 16,
                                      "generate_tokens": generate_tokens}))
    steps = []
    for s in t.steps:
        ops = tuple(dataclasses.replace(op, measured_ns=factor * 1e9 * kernel_time_s(
            system.devices[mapper.assign(op)], op)) for op in s.ops)
        wall = sum(system.devices[mapper.assign(op)].op_cost(op).duration_ps for op in s.ops)
        steps.append(dataclasses.replace(s, ops=ops, measured_ns=factor * wall / 1e3))
    save_trace(dataclasses.replace(t, steps=tuple(steps), source="captured"), path)
    return str(path)


def test_validate_reports_the_steps_compared(capsys, tmp_path, every_update):
    traces = [measured_gpt2(tmp_path / f"t{i}.json", 1.5) for i in range(2)]
    assert main(["validate", A100, *traces, "--json"]) == 0
    out, err = capsys.readouterr()
    lines = progress_lines(err, "validate")
    assert len(lines) == 12 and lines[-1].startswith("archsim: validate: 12/12 steps (100.0%)")
    assert json.loads(out)["step_count"] == 12


def test_calibrate_reports_its_stages(capsys, tmp_path, every_update):
    traces = [measured_gpt2(tmp_path / f"t{i}.json", 1.5) for i in range(2)]
    out = tmp_path / "fitted.yaml"
    rc = main(["calibrate", A100, *traces, "-o", str(out), "--test-fraction", "0.5",
               "--keep-floors"])
    lines = progress_lines(capsys.readouterr().err, "calibrate")
    # samples, one device fitted, validations before and after on train and test
    assert [ln.split(" (")[0] for ln in lines] == [
        f"archsim: calibrate: {i}/6 stages" for i in range(1, 7)]
    assert rc == 0 and out.exists()


def test_capture_reports_the_steps_run(capsys, tmp_path, every_update):
    pytest.importorskip("torch")
    assert main(["capture", "tests/fixtures/kineto/tiny_gpt2.yaml", "--device", "cpu", "-o",
                 str(tmp_path / "cap"), "--warmup", "1"]) == 0
    lines = progress_lines(capsys.readouterr().err, "capture")
    # one warm-up, the timed and the profiled generation of 4 tokens each
    assert len(lines) == 12 and lines[-1].startswith("archsim: capture: 12/12 steps (100.0%)")
