"""Decoding strategies as trace transforms: speculative decoding, Medusa tree decoding and
SkipDecode, each checked op by op against hand counts, and bad ``decoding:`` sections
rejected with one line and exit code 2."""
import dataclasses

import pytest

import archsim
from archsim.cli import main
from archsim.trace.schema import OpKind
from archsim.transforms.decoding import logical_trace
from archsim.transforms.decoding.passes import accepted_schedule
from archsim.transforms.decoding.spec import Speculative
from archsim.workload import load_workload

# GPT-2 small: d = 768, 12 heads of 64, 12 layers, vocab 50257, fp16 (2 bytes)
D, H, HD, V, L = 768, 12, 64, 50257, 12
PROMPT, GEN = 16, 9


def workload(**decoding):
    return load_workload({"model": "gpt2_small", "batch_size": 2, "prompt_tokens": PROMPT,
                          "generate_tokens": GEN, "decoding": decoding})


def by_name(step):
    return {op.name: op for op in step.ops}


# ---- the expected-tokens formula --------------------------------------------------------

@pytest.mark.parametrize("alpha,k", [(0.0, 3), (0.5, 2), (0.7, 4), (0.9, 8), (1.0, 5)])
def test_expected_tokens_is_leviathans_formula(alpha, k):
    s = Speculative(draft_model=None, k=k, acceptance=alpha)
    want = k + 1 if alpha == 1.0 else (1 - alpha ** (k + 1)) / (1 - alpha)
    assert s.expected_tokens() == pytest.approx(want)


def test_a_per_position_profile_multiplies_the_probabilities():
    s = Speculative(draft_model=None, k=3, acceptance_profile=(0.9, 0.5, 0.2))
    assert s.expected_tokens() == pytest.approx(1 + 0.9 + 0.9 * 0.5 + 0.9 * 0.5 * 0.2)


def test_accepted_schedule_averages_the_mean_and_stops_at_the_last_token():
    a = accepted_schedule(1.75, 1000)
    assert sum(a) == 1000 and set(a[:-1]) <= {1, 2}
    assert sum(a[:400]) == 700                       # floor(400 x 1.75)
    assert accepted_schedule(3.0, 7) == [3, 3, 1]


# ---- speculative decoding ---------------------------------------------------------------

def test_speculative_steps_are_k_draft_passes_then_a_k_plus_1_token_verification():
    w = workload(strategy="speculative", speculative={"k": 2, "acceptance": 0.5,
                                                      "draft_model": "gpt2_small"})
    t = logical_trace(w)
    E = 1.75                                        # 1 + 0.5 + 0.25
    sched = accepted_schedule(E, GEN - 1)        # [1, 2, 2, 1, 2] per sequence
    assert [s.yielded_tokens for s in t.steps[1:]] == [2 * a for a in sched]
    assert sum(s.yielded_tokens for s in t.steps) == 2 * GEN
    pre = by_name(t.steps[0])
    assert pre["L0.qkv_proj"].shape["m"] == 2 * PROMPT and "draft.L0.qkv_proj" in pre
    P = PROMPT + 1                                  # prompt + the first token (from prefill)
    for st, a in zip(t.steps[1:], sched):
        ops = st.ops
        per_pass = len(ops) // 3                    # two draft passes and the target pass
        drafts, verify = ops[:2 * per_pass], ops[2 * per_pass:]
        for j in range(2):
            sc = [o for o in drafts[j * per_pass:(j + 1) * per_pass]
                  if o.name == "draft.L0.attn_score"][0]
            assert (sc.shape["q_len"], sc.shape["kv_len"]) == (1, P + j)
        v = {o.name: o for o in verify}
        assert v["L0.attn_score"].shape["q_len"] == 3 and v["L0.attn_score"].shape["kv_len"] == P + 2
        assert v["L0.attn_score"].flops == 2 * 2 * H * 3 * (P + 2) * HD
        assert v["L0.qkv_proj"].flops == 2 * 6 * 3 * D * D + 6 * 3 * D      # M = B (k + 1)
        assert v["lm_head"].flops == 2 * 6 * V * D and v["lm_head"].weight_bytes == 2 * V * D
        # the chain: each pass starts after the previous one's sampling
        assert verify[0].deps == (2 * per_pass - 1,)
        assert drafts[per_pass].deps == (per_pass - 1,)
        P += a


def test_greedy_is_speculative_with_nothing_accepted_and_no_draft():
    w = workload()
    g = logical_trace(w)
    assert len(g.steps) == GEN and all(s.yielded_tokens == 2 for s in g.steps)


def test_the_draft_can_run_on_its_own_device():
    hw = {"name": "two", "devices": {"gpu0": {"extends": "h100_sxm"},
                                     "gpu1": {"extends": "l40s"}},
          "placement": {"default": "gpu0", "rules": [{"device": "gpu1", "names": ["draft.*"]}]},
          "links": [{"src": "gpu0", "dst": "gpu1", "extends": "pcie_gen5_x16"}]}
    w = workload(strategy="speculative", speculative={"k": 2, "acceptance": 0.5,
                                                      "draft_model": "gpt2_small"})
    r = archsim.run(hw, w)
    kinds = {d for d, _ in r.time_by_kind}
    assert kinds == {"gpu0", "gpu1"} and r.tokens == 2 * GEN


# ---- Medusa -----------------------------------------------------------------------------

def test_medusa_step_is_tree_attention_plus_heads_on_every_tree_position():
    w = workload(strategy="medusa", medusa={"accepted_tokens": 2.5, "heads": 3,
                                            "tree_tokens": 10})
    t = logical_trace(w)
    sched = accepted_schedule(2.5, GEN - 1)
    assert [s.yielded_tokens for s in t.steps[1:]] == [2 * a for a in sched]
    P = PROMPT + 1
    for st, a in zip(t.steps[1:], sched):
        ops = by_name(st)
        sc = ops["L5.attn_score"]
        assert (sc.shape["q_len"], sc.shape["kv_len"]) == (10, P - 1 + 10)
        assert sc.attrs == {"mask": "tree"} and ops["L5.softmax"].attrs["mask"] == "tree"
        assert ops["L5.ffn_up"].shape["m"] == 20
        heads = [o for o in st.ops if o.name.startswith("medusa.")]
        assert len(heads) == 3 * 5                  # fc, act, residual, lm_head, top-k
        assert ops["medusa.h2.lm_head"].flops == 2 * 20 * V * D
        assert ops["medusa.h0.fc0"].weight_bytes == 2 * (D * D + D)
        assert ops["medusa.h1.fc0"].deps == (ops["final_norm"].id,)
        P += a
    pre = by_name(t.steps[0])
    assert pre["medusa.h0.lm_head"].shape["m"] == 2  # last position of each sequence


# ---- SkipDecode -------------------------------------------------------------------------

def test_skip_decode_keeps_the_top_layers_and_rewires_the_residual_stream():
    w = workload(skip_decode={"max_layers": 12, "min_layers": 4})
    t = logical_trace(w)
    g = logical_trace(dataclasses.replace(w, decoding=type(w.decoding)()))
    n = GEN - 1
    for i, (st, full) in enumerate(zip(t.steps[1:], g.steps[1:]), start=1):
        keep = 12 - 8 * (i - 1) // (n - 1)
        layers = {o.layer for o in st.ops if o.layer >= 0}
        assert layers == set(range(L - keep, L))
        per_layer = sum(o.flops for o in full.ops if o.layer == 0)
        dropped = sum(o.flops for o in full.ops if 0 <= o.layer < L - keep)
        assert dropped == (L - keep) * per_layer
        assert st.flops == full.flops - dropped
        first = by_name(st)[f"L{L - keep}.norm1"]
        assert first.deps == (0,)                   # straight from the embedding
        ids = [o.id for o in st.ops]
        assert ids == list(range(len(ids))) and all(d < o.id for o in st.ops for d in o.deps)
    assert t.steps[0] is g.steps[0] or t.steps[0].flops == g.steps[0].flops


def test_skip_decode_per_position_profile():
    w = workload(skip_decode={"layers_per_position": [10, 8, 6]})
    t = logical_trace(w)
    counts = [len({o.layer for o in s.ops if o.layer >= 0}) for s in t.steps[1:]]
    assert counts == [10, 8, 6, 6, 6, 6, 6, 6]


# ---- every device kind prices the transformed ops ---------------------------------------

@pytest.mark.parametrize("hw", ["gpu_h100_sxm", "cpu_xeon_gold_6154", "pim_gpt"])
def test_devices_price_speculative_and_tree_steps(hw):
    for dec in ({"strategy": "speculative", "speculative": {"k": 2, "acceptance": 0.6,
                                                            "draft_model": "gpt2_small"}},
                {"strategy": "medusa", "medusa": {"accepted_tokens": 2.0, "heads": 2,
                                                  "tree_tokens": 4}}):
        w = load_workload({"model": "gpt2_small", "prompt_tokens": 8, "generate_tokens": 4,
                           "decoding": dec})
        r = archsim.run(f"hw_configs/{hw}.yaml", w)
        assert r.tokens == 4 and r.latency_s > 0 and r.energy_j > 0


# ---- bad input --------------------------------------------------------------------------

BAD = [
    ("strategy: speculative\n  speculative: {k: 3, acceptance: 1.5, draft_model: gpt2_small}",
     "decoding.speculative.acceptance", "expected <= 1.0"),
    ("strategy: speculative\n  speculative: {k: 2, acceptance_profile: [0.5, -0.1], "
     "draft_model: gpt2_small}", "decoding.speculative.acceptance_profile[1]", "[0, 1]"),
    ("strategy: speculative\n  speculative: {k: 2, draft_model: gpt2_small}",
     "decoding.speculative", "give either 'acceptance'"),
    ("strategy: speculative\n  speculative: {k: 2, acceptance: 0.5, draft_model: gpt2_xl}",
     "decoding.speculative.draft_model", "larger than the target"),
    ("strategy: speculative\n  speculative: {k: 2, acceptance: 0.5, draft_model: "
     "{extends: gpt2_small, vocab_size: 32000}}",
     "decoding.speculative.draft_model", "vocabulary"),
    ("strategy: medusa\n  medusa: {accepted_tokens: 2, tree_tokens: 1020}",
     "decoding.medusa.tree_tokens", "exceeds the model's max_positions"),
    ("strategy: medusa", "decoding.medusa", "needs a 'medusa:' section"),
    ("skip_decode: {max_layers: 30, min_layers: 2}", "decoding.skip_decode", "exceeds"),
    ("skip_decode: {layers_per_position: [6, 8]}", "decoding.skip_decode.layers_per_position[1]",
     "must not increase"),
]


@pytest.mark.parametrize("text,key,msg", BAD)
def test_bad_decoding_sections_are_one_line_errors(tmp_path, capsys, text, key, msg):
    wl = tmp_path / "w.yaml"
    wl.write_text("model: gpt2_medium\nprompt_tokens: 8\ngenerate_tokens: 4\n"
                  f"decoding:\n  {text}\n")
    assert main(["run", "hw_configs/gpu_h100_sxm.yaml", str(wl)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"archsim: error: {wl}:")
    assert key in err and msg in err


# ---- GEAR KV compression ----------------------------------------------------------------

def test_gear_adds_low_rank_and_outlier_bytes_and_reconstruction_flops():
    w = load_workload({"model": "gpt2_small", "batch_size": 2, "prompt_tokens": PROMPT,
                       "generate_tokens": GEN, "precision": {"kv_cache": "int4"},
                       "decoding": {"kv_compression": {"rank_ratio": 0.05,
                                                       "outlier_fraction": 0.02}}})
    plain = logical_trace(dataclasses.replace(w, decoding=type(w.decoding)()))
    t = logical_trace(w)
    for st, ref in zip(t.steps, plain.steps):
        for op, o in zip(st.ops, ref.ops):
            if o.kind not in (OpKind.ATTENTION_SCORE, OpKind.ATTENTION_CONTEXT):
                assert op is o
                continue
            n, d = o.shape["kv_len"], D                 # 12 KV heads x 64
            r = -(-5 * min(n, d) // 100)                # ceil(0.05 min(n, d))
            s = -(-2 * n * d // 100)                    # ceil(0.02 n d)
            extra_b = 2 * (n + d) * r + 2 * s + 4 * s   # fp16 factors, fp16 values, int32 idx
            extra_f = 2 * n * d * r + s + 2 * n * d
            assert op.bytes_read - o.bytes_read == 2 * extra_b
            assert op.kv_bytes - o.kv_bytes == 2 * extra_b
            assert op.flops - o.flops == 2 * extra_f
            assert op.attrs["kv_compression"] == "gear"


def test_a_pim_device_refuses_gear_compressed_attention(tmp_path, capsys):
    wl = tmp_path / "w.yaml"
    wl.write_text("model: gpt2_small\nprompt_tokens: 8\ngenerate_tokens: 3\n"
                  "decoding: {kv_compression: {method: gear}}\n")
    assert main(["run", "hw_configs/pim_gpt.yaml", str(wl)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot reconstruct" in err and "PIM device" in err


# ---- superposed decoding ----------------------------------------------------------------

def test_superposed_decoding_gathers_k_embeddings_and_yields_a_token_per_draft():
    w = workload(strategy="superposed", superposed={"drafts": 3})
    t = logical_trace(w)
    g = logical_trace(dataclasses.replace(w, decoding=type(w.decoding)()))
    assert sum(s.yielded_tokens for s in t.steps) == 3 * 2 * GEN
    assert t.steps[0].first_token_sequences == 6 and t.steps[0].ops == g.steps[0].ops
    for st, ref in zip(t.steps[1:], g.steps[1:]):
        e = st.ops[0]
        # GPT-2: 3 token rows + 1 learned-position row per sequence gathered, fp16
        assert e.bytes_read == 2 * (3 * 2 * D + 2 * D) and e.bytes_written == 2 * 2 * D
        assert e.flops == (2 * 3 - 1) * 2 * D + 2 * D
        assert st.ops[1:] == ref.ops[1:] and st.batch == 6


@pytest.mark.parametrize("hw,dec,what", [
    # tensor parallelism and an attention pool split Medusa's heads
    # (tests/test_decoding_parallel.py, tests/test_decoding_offload.py); pipeline stages are
    # cut by the target's layers only
    ("pipeline", {"strategy": "medusa", "medusa": {"accepted_tokens": 2.0}},
     "cannot split"),
    ("h100x4_tp4", {"kv_compression": {"method": "gear"}}, "would be lost"),
])
def test_strategies_a_parallelism_plan_would_shard_wrongly_are_refused(hw, dec, what):
    w = {"model": "llama2_7b", "batch_size": 2, "prompt_tokens": 16, "generate_tokens": 3,
         "decoding": dec}
    if hw == "pipeline":
        hw = archsim.load_hardware("hw_configs/h100x4_tp4.yaml", overrides=[
            "parallelism.tensor=2", "parallelism.pipeline=2"])
    else:
        hw = f"hw_configs/{hw}.yaml"
    with pytest.raises(archsim.ConfigError, match=what):
        archsim.run(hw, w)


def test_skip_decode_and_superposed_decoding_compose_with_tensor_parallelism():
    base = {"model": "llama2_7b", "prompt_tokens": 16, "generate_tokens": 4}
    g = archsim.run("hw_configs/h100x4_tp4.yaml", base)
    s = archsim.run("hw_configs/h100x4_tp4.yaml", dict(base, decoding={
        "skip_decode": {"max_layers": 24, "min_layers": 16}}))
    p = archsim.run("hw_configs/h100x4_tp4.yaml", dict(base, decoding={
        "strategy": "superposed", "superposed": {"drafts": 2}}))
    assert s.latency_s < g.latency_s and p.tokens == 2 * g.tokens


def test_memory_counts_the_draft_kv_cache_once_not_once_per_draft_pass():
    from archsim.capacity import memory_by_device
    from archsim.engine.simulator import Simulator
    from archsim.hardware import load_hardware
    w = workload(strategy="speculative", speculative={"k": 3, "acceptance": 0.5,
                                                      "draft_model": "gpt2_small"})
    t = logical_trace(w)
    last = t.steps[-1]
    hw = load_hardware("hw_configs/gpu_h100_sxm.yaml")
    kv = memory_by_device(t, Simulator(hw).mapper)["gpu0"]["kv"]
    verify_ctx = last.context_len                    # P + k for the target
    per_token = 2 * 2 * L * D                        # K and V, fp16, 12 layers, 12 x 64
    draft_ctx = verify_ctx - 3                       # the first draft pass reads P tokens
    assert kv == 2 * (per_token * verify_ctx + per_token * draft_ctx)   # batch 2
