"""FLOPs and bytes of the analytic trace against hand computation."""
from archsim import OpKind, generate_trace, load_workload


def _ops(model, prompt=16, gen=3, batch=1, **prec):
    w = load_workload({"model": model, "batch_size": batch, "prompt_tokens": prompt,
                       "generate_tokens": gen, "precision": prec or {}})
    return w, generate_trace(w)


def by_name(step):
    return {op.name: op for op in step.ops}


def test_gpt2_small_decode_step_by_hand():
    w, t = _ops("gpt2_small", prompt=16, gen=3)
    step = t.steps[2]                      # second decode step: context 18
    assert step.context_len == 18 and step.new_tokens == 1
    ops = by_name(step)
    d, f, C = 768, 3072, 18
    qkv = ops["L0.qkv_proj"]
    assert qkv.kind is OpKind.GEMV
    assert (qkv.shape["m"], qkv.shape["n"], qkv.shape["k"]) == (1, 2304, 768)
    assert qkv.flops == 2 * 768 * 2304 + 2304                       # MACs x 2 + bias
    assert qkv.weight_bytes == 2 * (768 * 2304 + 2304)              # fp16
    assert qkv.bytes_read == 2 * 768 + qkv.weight_bytes
    assert qkv.bytes_written == 2 * 768 + 2 * 2 * 768               # q out + new k, v into cache
    sc = ops["L5.attn_score"]
    assert sc.flops == 2 * 12 * 1 * C * 64
    assert sc.bytes_read == 2 * 12 * 64 + 2 * 12 * C * 64           # q + K cache
    assert sc.bytes_written == 2 * 12 * C
    cx = ops["L5.attn_context"]
    assert cx.flops == 2 * 12 * C * 64
    assert cx.bytes_read == 2 * 12 * C + 2 * 12 * C * 64            # probabilities + V cache
    assert ops["L0.softmax"].flops == 6 * 12 * C
    assert ops["L0.norm1"].flops == 7 * d + 1
    assert ops["L0.act"].flops == 9 * f
    assert ops["L0.ffn_up"].flops == 2 * d * f + f
    assert ops["L0.ffn_down"].flops == 2 * f * d + d
    assert ops["L0.out_proj"].flops == 2 * d * d + d
    assert ops["lm_head"].flops == 2 * 768 * 50257
    # every weight read once per decode step: all layers, final norm, LM head, one row of wte+wpe
    per_layer = (768 * 2304 + 2304 + 768 * 768 + 768 + 768 * 3072 + 3072 + 3072 * 768 + 768
                 + 2 * 2 * 768)
    params_read = 12 * per_layer + 2 * 768 + 2 * 768 + 768 * 50257
    assert params_read == 123_654_912
    assert step.weight_bytes == 2 * params_read


def test_gpt2_small_parameter_count_matches_published():
    w, _ = _ops("gpt2_small")
    assert w.model.parameter_count() == 124_439_808        # Hugging Face gpt2: 124,439,808


def test_llama2_7b_decode_step_by_hand():
    w, t = _ops("llama2_7b", prompt=32, gen=2)
    assert w.model.parameter_count() == 6_738_415_616      # Hugging Face Llama-2-7b-hf
    step = t.steps[1]
    ops = by_name(step)
    d, f, C = 4096, 11008, 33
    assert ops["L0.qkv_proj"].flops == 2 * 4096 * 3 * 4096              # no biases
    assert ops["L0.ffn_up"].shape == {"m": 1, "n": 2 * f, "k": d}       # gate + up fused
    assert ops["L0.ffn_up"].flops == 2 * d * 2 * f
    assert ops["L0.ffn_down"].flops == 2 * f * d
    assert ops["L0.act"].flops == 5 * f                                  # SiLU(g) * u
    assert ops["L0.rope"].flops == 3 * (32 + 32) * 128
    assert ops["L0.norm1"].flops == 4 * d + 1                            # RMSNorm
    assert ops["L3.attn_score"].flops == 2 * 32 * C * 128
    assert ops["L3.attn_score"].kv_bytes == 2 * 32 * C * 128
    assert ops["lm_head"].flops == 2 * d * 32000                          # untied head
    per_layer = 4096 * 12288 + 4096 * 4096 + 4096 * 2 * 11008 + 11008 * 4096 + 2 * 4096
    assert step.weight_bytes == 2 * (32 * per_layer + 4096 + 4096 + 4096 * 32000)
    assert step.weight_bytes == 13_214_695_424


def test_prefill_counts_full_prompt_and_last_position_head():
    w, t = _ops("gpt2_small", prompt=16, gen=2, batch=2)
    pre = by_name(t.steps[0])
    M = 2 * 16
    assert pre["L0.qkv_proj"].kind is OpKind.GEMM
    assert pre["L0.qkv_proj"].flops == 2 * M * 2304 * 768 + M * 2304
    assert pre["L0.attn_score"].flops == 2 * 2 * 12 * 16 * 16 * 64
    assert pre["lm_head"].shape["m"] == 2            # last position of each sequence only


def test_gqa_and_quantised_kv_cache_bytes():
    w, t = _ops("llama3_8b", prompt=8, gen=2, kv_cache="int4", weights="int8")
    ops = by_name(t.steps[1])
    C = 9
    assert ops["L0.attn_score"].kv_bytes == (8 * C * 128 * 4) // 8      # 8 KV heads, 4 bits
    assert ops["L0.qkv_proj"].weight_bytes == 4096 * (32 + 16) * 128    # int8 weights
    assert ops["L0.qkv_proj"].shape["n"] == (32 + 2 * 8) * 128


def test_ops_are_topologically_ordered():
    _, t = _ops("llama2_7b", prompt=4, gen=2)
    for s in t.steps:
        for op in s.ops:
            assert op.id == s.ops.index(op)
            assert all(d < op.id for d in op.deps)


def test_decode_steps_sharing_ops_equal_steps_built_from_scratch():
    from archsim.trace.generate import step_ops
    w, t = _ops("llama3_8b", prompt=5, gen=6, batch=2)
    for s in t.steps[1:]:
        assert s.ops == step_ops(w, 1, s.context_len)
