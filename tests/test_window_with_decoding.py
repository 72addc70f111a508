"""A sink + window attention (issue 11's workload feature) holds under the decoding strategies
(issue 17's transforms), and serving, which does not model it, refuses it: both once ignored
the window in silence."""
from pathlib import Path

import pytest

import archsim
from archsim.trace.schema import ATTENTION_KINDS, Phase

HW = "hw_configs/gpu_h100_sxm.yaml"
WINDOW = ["attention_window.sink_tokens=4", "attention_window.window_tokens=28"]
SHORT = ["prompt_tokens=64", "generate_tokens=16"]


def _windowed(tmp_path, base):
    f = tmp_path / "windowed.yaml"
    f.write_text(f"extends: {base}\nprompt_tokens: 64\ngenerate_tokens: 16\n"
                 "attention_window: {sink_tokens: 4, window_tokens: 28}\n")
    return str(f)


def test_speculative_decoding_attends_to_the_window_only():
    wl = "workloads/llama2_7b_speculative.yaml"
    r = archsim.run(HW, wl, overrides=SHORT + WINDOW)
    attn = [op for s in r.trace.steps if s.phase is not Phase.PREFILL for op in s.ops
            if op.kind in ATTENTION_KINDS]
    assert attn and max(int(op.shape["kv_len"]) for op in attn) <= 32
    full = archsim.run(HW, wl, overrides=SHORT)

    def kv_bytes(run):
        return sum(op.kv_bytes for s in run.trace.steps for op in s.ops)
    assert kv_bytes(r) < kv_bytes(full)


def test_serving_a_windowed_workload_is_refused_not_priced_as_full_attention(tmp_path, capsys):
    from archsim.cli import main
    wl = _windowed(tmp_path, Path(__file__).resolve().parents[1] / "workloads" / "llama2_7b.yaml")
    assert main(["serve", HW, wl, "--arrivals", "poisson:1", "--requests", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "attention_window" in err and "not modelled" in err
