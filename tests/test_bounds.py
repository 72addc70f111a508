"""Physical bounds: a memory-bound decode step can never beat weight bytes / peak bandwidth."""
import pytest

import archsim
from archsim.config.presets import list_presets, load_preset

ROOFLINE_PRESETS = [n for n in list_presets("devices")
                    if load_preset("devices", n).data.get("kind") in ("gpu", "cpu")]


@pytest.mark.parametrize("gpu", ROOFLINE_PRESETS)
@pytest.mark.parametrize("model", ["gpt2_xl", "llama2_7b", "opt_6_7b"])
def test_decode_never_beats_weight_streaming(gpu, model):
    hw = {"name": gpu, "devices": {"g": {"extends": gpu}}}
    wl = {"model": model, "prompt_tokens": 64, "generate_tokens": 4}
    try:
        r = archsim.run(hw, wl)
    except archsim.SimulationError:
        pytest.skip(f"{model} does not fit in {gpu}")
    bw = r.system.devices["g"].peak_bandwidth_bytes_per_s()
    for step, ps in zip(r.trace.steps[1:], r.decode_ps):
        bound_s = step.weight_bytes / bw
        assert ps * 1e-12 >= bound_s


def test_a100_llama2_7b_tpot_within_1_5x_of_the_bandwidth_bound(a100, root):
    r = archsim.run(a100, str(root / "workloads" / "llama2_7b.yaml"))
    bound = r.trace.steps[1].weight_bytes / 2039e9
    ratio = r.tpot_s["mean"] / bound
    assert 1.0 < ratio < 1.5


def test_batching_amortises_weights(a100, gpt2_small):
    one = archsim.run(a100, gpt2_small, overrides=["batch_size=1"])
    many = archsim.run(a100, gpt2_small, overrides=["batch_size=16"])
    assert many.tokens_per_s > 4 * one.tokens_per_s
    assert many.tpot_s["mean"] >= one.tpot_s["mean"]
