"""Low-bit weights, N:M sparsity and sink + window attention in the trace, against hand
computation, and devices that cannot price them saying so."""
import pytest

from archsim import generate_trace, load_hardware, load_workload, run
from archsim.errors import ConfigError

LLAMA = {"model": "llama2_7b", "batch_size": 1, "prompt_tokens": 16, "generate_tokens": 3}


def _trace(**extra):
    w = load_workload({**LLAMA, **extra})
    return w, generate_trace(w)


def _ops(step):
    return {op.name: op for op in step.ops}


def test_group_wise_scales_are_counted_exactly():
    _, t = _trace(precision={"weights": "int4", "weight_group_size": 128})
    qkv = _ops(t.steps[1])["L0.qkv_proj"]
    k, n = 4096, 3 * 4096
    # int4 values packed two per byte, one fp16 scale per 128 weights of each output
    assert qkv.weight_bytes == k * n // 2 + n * (k // 128) * 2
    assert qkv.attrs == {"weight_group": 128, "scale_dtype": "fp16",
                         "dequant_elements": k * n, "dequant_ops_per_element": 3}
    assert qkv.flops == 2 * k * n


def test_per_layer_mixed_precision_changes_only_the_named_layers():
    _, t = _trace(precision={"weights": "int4", "layer_weights": [
        {"first": 16, "last": 31, "weights": "int3"}]})
    ops = _ops(t.steps[1])
    k, f = 4096, 11008
    assert ops["L15.ffn_down"].weight_bytes == f * k // 2
    assert ops["L16.ffn_down"].weight_bytes == -(-f * k * 3 // 8)
    assert ops["L16.ffn_down"].weight_dtype == "int3"
    assert ops["lm_head"].weight_dtype == "int4"     # outside the decoder layers


def test_two_four_sparsity_halves_values_and_adds_index_metadata():
    _, t = _trace(precision={"weights": "int2", "weight_group_size": 128},
                  sparsity={"n": 2, "m": 4})
    ops = _ops(t.steps[1])
    up = ops["L3.ffn_up"]
    k, n = 4096, 2 * 11008
    nnz = n * k // 2
    # 2-bit values, a 2-bit position per kept value, fp16 scales per 128 (dense) positions
    assert up.weight_bytes == nnz * 2 // 8 + nnz * 2 // 8 + n * (k // 128) * 2
    assert up.flops == 2 * nnz                        # only the kept weights are multiplied
    assert up.attrs["sparsity"] == "2:4" and up.attrs["index_bits"] == 2
    assert "sparsity" not in ops["lm_head"].attrs     # the LM head stays dense


def test_sink_plus_window_attention_bounds_the_attended_keys():
    win = {"sink_tokens": 4, "window_tokens": 8}
    _, t = _trace(attention_window=win, prompt_tokens=30, generate_tokens=4)
    pre = _ops(t.steps[0])["L0.attn_score"]
    assert pre.shape["kv_len"] == 12 and pre.shape["q_len"] == 30
    for step in t.steps[1:]:                          # contexts 31..33, all beyond 12
        sc, cx = _ops(step)["L0.attn_score"], _ops(step)["L0.attn_context"]
        assert sc.shape["kv_len"] == cx.shape["kv_len"] == 12
        assert sc.flops == 2 * 32 * 12 * 128
        assert sc.kv_bytes == 2 * 32 * 12 * 128       # fp16 K of the 12 kept tokens
        assert sc.attrs == {"attention_window": "4+8"}
    _, short = _trace(attention_window=win, prompt_tokens=5, generate_tokens=3)
    assert _ops(short.steps[1])["L0.attn_score"].shape["kv_len"] == 6   # full until it fills


def test_plain_workloads_keep_their_form():
    w, t = _trace()
    assert "sparsity" not in w.to_dict() and "layer_weights" not in w.to_dict()["precision"]
    assert _ops(t.steps[1])["L0.qkv_proj"].attrs == {}


def test_workload_errors_name_the_key():
    with pytest.raises(ConfigError, match="layer 40 does not exist"):
        load_workload({**LLAMA, "precision": {"layer_weights": [
            {"first": 30, "last": 40, "weights": "int3"}]}})
    with pytest.raises(ConfigError, match="must be less than m"):
        load_workload({**LLAMA, "sparsity": {"n": 4, "m": 4}})


def test_gpu_and_pim_refuse_what_they_cannot_price(root):
    sparse = {**LLAMA, "generate_tokens": 2, "sparsity": {"n": 2, "m": 4}}
    with pytest.raises(ConfigError, match="gpu model of device 'gpu0' cannot price"):
        run(str(root / "hw_configs" / "gpu_a100_80gb.yaml"), sparse)
    pim = load_hardware(str(root / "hw_configs" / "pim_gpt.yaml"))
    gpt2 = {"model": "gpt2_small", "prompt_tokens": 8, "generate_tokens": 2,
            "precision": {"weights": "int4", "activations": "bf16", "kv_cache": "bf16"}}
    with pytest.raises(ConfigError, match="int4 weights but the MAC units"):
        run(pim, gpt2)


def test_gpu_prices_low_bit_weights_and_windows_by_their_bytes(root):
    a100 = str(root / "hw_configs" / "gpu_a100_80gb.yaml")
    dense = run(a100, {**LLAMA, "generate_tokens": 4})
    low = run(a100, {**LLAMA, "generate_tokens": 4,
                     "precision": {"weights": "int4", "weight_group_size": 128}})
    assert low.tpot_s["mean"] < 0.5 * dense.tpot_s["mean"]
