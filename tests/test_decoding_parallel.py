"""Speculative and Medusa decoding under a parallelism plan: the draft model is sharded like
the target on the tensor ranks (its own heads and KV heads), Medusa's residual blocks run on
every rank and its LM heads are split by vocabulary, attention keeps its attributes, and the
rank shares of every split op add up to the unsharded op. Pipeline stages are refused with a
draft or Medusa heads in the trace."""
from collections import defaultdict

import pytest

from archsim import load_hardware, load_workload, run
from archsim.cli import main
from archsim.trace.schema import OpKind
from archsim.transforms import apply_transforms
from archsim.transforms.decoding import logical_trace

SMALL = {"batch_size": 2, "prompt_tokens": 64, "generate_tokens": 5}
SPLIT = {"qkv_proj", "ffn_up", "out_proj", "ffn_down", "attn_score", "softmax",
         "attn_context", "lm_head", "rope", "act"}


def _traces(root, hw_name, wl_name):
    hw = load_hardware(str(root / "hw_configs" / f"{hw_name}.yaml"))
    w = load_workload({"extends": str(root / "workloads" / wl_name), **SMALL})
    t = logical_trace(w, hw)
    return w, t, apply_transforms(t, hw.trace_transforms(), hw)


def _by_name(step):
    out = defaultdict(list)
    for op in step.ops:
        if op.kind not in (OpKind.COLLECTIVE, OpKind.TRANSFER):
            out[op.name].append(op)
    return out


def _base(name):
    return name.rsplit(".", 1)[-1]


def test_the_draft_is_sharded_like_the_target_and_its_shares_add_up(root):
    w, t, tt = _traces(root, "h100x4_tp4", "llama2_7b_speculative.yaml")
    logical, shards = t.steps[1], _by_name(tt.steps[1])
    assert any(op.name.startswith("draft.") for op in logical.ops)
    seen = set()
    for op in logical.ops:
        parts = shards[op.name]
        seen.add(op.name)
        n = sum(1 for o in logical.ops if o.name == op.name)  # draft passes repeat names
        assert len(parts) == 4 * n, op.name
        if _base(op.name) in SPLIT and op.name not in ("sample", "draft.sample"):
            assert sum(p.flops for p in parts) == sum(
                o.flops for o in logical.ops if o.name == op.name), op.name
    # TinyLlama: 32 heads, 4 KV heads of 64 -> per rank 8 query heads and 1 KV head
    qkv = shards["draft.L0.qkv_proj"][0]
    assert qkv.shape["n"] == (8 + 2 * 1) * 64 and qkv.shape["k"] == 2048
    # the target: 32 heads, 32 KV heads of 128 -> 8 and 8 per rank
    assert shards["L0.qkv_proj"][0].shape["n"] == (8 + 2 * 8) * 128
    # draft passes after the first re-read the draft's KV cache, on every rank
    rereads = [o for o in shards["draft.L0.attn_score"] if o.attrs.get("kv_reread")]
    assert len(rereads) == 4 * (w.decoding.speculative.k - 1)


def test_bytes_of_split_attention_add_up_to_the_unsharded_ops(root):
    _, t, tt = _traces(root, "h100x4_tp4", "llama2_7b_speculative.yaml")
    logical, shards = t.steps[2], _by_name(tt.steps[2])
    for name in ("draft.L3.attn_context", "L3.attn_context", "L3.ffn_down", "draft.L3.ffn_up"):
        want = [o for o in logical.ops if o.name == name]
        got = shards[name]
        assert sum(o.flops for o in got) == sum(o.flops for o in want)
        assert sum(o.weight_bytes for o in got) == sum(o.weight_bytes for o in want)
        assert sum(o.kv_bytes for o in got) == sum(o.kv_bytes for o in want)


def test_medusa_heads_run_as_vllm_runs_them_and_the_tree_mask_survives(root):
    w, t, tt = _traces(root, "h100x4_tp4", "llama2_7b_medusa.yaml")
    logical, shards = t.steps[1], _by_name(tt.steps[1])
    fc = next(o for o in logical.ops if o.name == "medusa.h0.fc0")
    assert all(p.flops == fc.flops for p in shards["medusa.h0.fc0"])   # replicated block
    lm = next(o for o in logical.ops if o.name == "medusa.h4.lm_head")
    assert sum(p.flops for p in shards["medusa.h4.lm_head"]) == lm.flops  # vocab-parallel
    assert sum(p.shape["n"] for p in shards["medusa.h4.lm_head"]) == 32000
    gathers = [o for o in tt.steps[1].ops if o.name == "medusa.h4.lm_head.all_gather"]
    assert len(gathers) == 1
    assert all(o.attrs.get("mask") == "tree" for o in shards["L0.attn_score"])


@pytest.mark.parametrize("hw", ["h100x4_tp4", "dgx_h100_tp8"])
def test_speculative_and_medusa_run_on_tensor_parallel_design_points(root, hw):
    for wl in ("llama2_7b_speculative.yaml", "llama2_7b_medusa.yaml"):
        r = run(str(root / "hw_configs" / f"{hw}.yaml"),
                load_workload({"extends": str(root / "workloads" / wl), **SMALL}))
        assert r.tokens == SMALL["batch_size"] * SMALL["generate_tokens"]


def test_pipeline_stages_with_speculative_decoding_are_refused(root, capsys):
    assert main(["run", str(root / "hw_configs" / "h100x4_tp4.yaml"),
                 str(root / "workloads" / "llama2_7b_speculative.yaml"), "--set",
                 "parallelism.tensor=2", "--set", "parallelism.pipeline=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pipeline stages" in err
