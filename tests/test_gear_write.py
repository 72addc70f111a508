"""GEAR's write side: the prompt's KV entries are compressed after the prefill and new ones
each time the streaming buffer fills, as three kernels per layer (outliers, quantisation,
power-iteration low rank) whose FLOPs and bytes are counted here by hand."""
import archsim
from archsim.transforms.decoding import logical_trace
from archsim.workload import load_workload

PROMPT, GEN, D = 16, 9, 768            # GPT-2 small: 12 KV heads x 64


def _trace(buffer_tokens=4, **decoding):
    w = load_workload({"model": "gpt2_small", "batch_size": 2, "prompt_tokens": PROMPT,
                       "generate_tokens": GEN, "precision": {"kv_cache": "int4"},
                       "decoding": {**decoding, "kv_compression": {
                           "rank_ratio": 0.05, "outlier_fraction": 0.02,
                           "buffer_tokens": buffer_tokens, "power_iterations": 3}}})
    return logical_trace(w)


def _gear(step):
    return {op.name: op for op in step.ops if "gear_" in op.name}


def test_the_prompt_is_compressed_after_the_prefill_as_counted_by_hand():
    pre = _trace().steps[0]
    ops = _gear(pre)
    assert len(ops) == 12 * 3
    n, d, mats = PROMPT, D, 4                       # 2 sequences x (K, V)
    N = mats * n * d
    s = -(-2 * n * d // 100)                        # ceil(0.02 n d) = 246 outliers per matrix
    r = -(-5 * min(n, d) // 100)                    # ceil(0.05 x 16) = 1
    out, q, lr = ops["L3.gear_outliers"], ops["L3.gear_quantise"], ops["L3.gear_lowrank"]
    assert (s, r) == (246, 1)
    assert out.flops == 2 * N and out.bytes_read == 2 * N
    assert out.bytes_written == mats * (2 * s + 4 * s)      # fp16 values, int32 indices
    assert q.flops == 8 * N and q.bytes_read == 2 * N
    assert q.bytes_written == N // 2 + 2 * N                # int4 backbone, fp16 residual
    qr = 2 * n * r * r + 2 * d * r * r - 2 * (2 * r ** 3 // 3)
    assert lr.flops == mats * (4 * 3 * n * d * r + qr)
    assert lr.bytes_read == 2 * N + 2 * 3 * 4 * N           # the residual, then fp32 x 6
    assert lr.bytes_written == mats * 2 * (n + d) * r
    # a chain after the layer's QKV projection
    qkv = next(op.id for op in pre.ops if op.name == "L3.qkv_proj")
    assert out.deps == (qkv,) and q.deps == (out.id,) and lr.deps == (q.id,)
    assert all(op.attrs["kv_compression"] == "gear" for op in ops.values())


def test_new_entries_are_compressed_each_time_the_buffer_fills():
    t = _trace(buffer_tokens=4)
    # greedy: one entry per sequence per decode step; 8 decode steps fill the buffer twice
    filled = [i for i, st in enumerate(t.steps) if i and _gear(st)]
    assert filled == [4, 8]
    lr = _gear(t.steps[4])["L0.gear_lowrank"]
    n, r = 4, 1
    qr = 2 * (n + D) * r * r - 2 * (2 * r ** 3 // 3)
    assert lr.flops == 4 * (4 * 3 * n * D * r + qr)


def test_speculative_rounds_fill_the_buffer_with_their_accepted_tokens():
    t = _trace(buffer_tokens=3, strategy="speculative",
               speculative={"k": 2, "acceptance": 1.0, "draft_model": "gpt2_small"})
    # every round accepts k + 1 = 3 tokens (the last capped at what is left): 8 tokens after
    # the prefill's first come in rounds of 3, 3, 2 and fill the buffer twice
    got = [len(_gear(st)) // 12 // 3 for st in t.steps[1:]]
    assert got == [1, 1, 0]
    assert not any(n.startswith("draft.") for st in t.steps for n in _gear(st))


def test_gear_compression_costs_time_on_a_gpu():
    base = {"model": "gpt2_small", "batch_size": 4, "prompt_tokens": 256,
            "generate_tokens": 4, "precision": {"kv_cache": "int4"}}
    gear = archsim.run("hw_configs/gpu_h100_sxm.yaml",
                       dict(base, decoding={"kv_compression": {"method": "gear"}}))
    plain = archsim.run("hw_configs/gpu_h100_sxm.yaml", base)
    assert gear.ttft_s > plain.ttft_s
    key = ("gpu0", "elementwise")
    assert gear.ops_by_kind[key] == plain.ops_by_kind[key] + 12 * 3      # the prompt's only
