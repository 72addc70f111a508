"""Speculative, Medusa and Hydra decoding on attention-offload design points (Lamina's H100 +
H20 pool, AttAcc's GPUs + HBM-PIM): the draft model's passes (its attention included) and
Medusa's heads run on the dense units, split as tensor parallelism splits them; the target's
verification (k + 1 query positions) and tree attention run on the pool against the target's
KV cache, counted as by hand."""
from collections import defaultdict

import pytest

from archsim import load_hardware, load_workload, run
from archsim.cli import main
from archsim.trace.schema import OpKind
from archsim.transforms import apply_transforms
from archsim.transforms.decoding import logical_trace

SMALL = {"batch_size": 2, "prompt_tokens": 64, "generate_tokens": 5}
POOL = {"attn0", "attn1", "attn2", "attn3"}
DENSE = {"model0", "model1"}


def _step(root, wl, index=1):
    hw = load_hardware("lamina_h100_h20")
    w = load_workload({"extends": str(root / "workloads" / wl), **SMALL})
    t = apply_transforms(logical_trace(w, hw), hw.trace_transforms(), hw)
    by = defaultdict(list)
    for op in t.steps[index].ops:
        if op.kind not in (OpKind.COLLECTIVE, OpKind.TRANSFER):
            by[op.name].append(op)
    return w, t.steps[index], by


def _devices(ops):
    return {o.devices[0] for o in ops}


def test_verification_runs_on_the_pool_and_the_draft_beside_the_dense_ops(root):
    w, step, by = _step(root, "llama2_7b_speculative.yaml")
    k = w.decoding.speculative.k
    # the target's verification: k + 1 = 5 query positions against P + k = 65 + 4 cached
    # tokens, on the four H20s; 2 micro-batches of 1 sequence, 32 KV heads over 4 units: 8
    # (sequence, KV head) pairs per unit, each 1 query head of 128
    score = by["L0.attn_score"]
    assert _devices(score) == POOL and len(score) == 2 * 4
    assert {(o.shape["q_len"], o.shape["kv_len"]) for o in score} == {(k + 1, 65 + k)}
    assert {o.flops for o in score} == {8 * 2 * (k + 1) * (65 + k) * 128}
    # the draft's attention (TinyLlama: 32 heads, 4 KV heads of 64) on the two H100s, 16 heads
    # and 2 KV heads per rank, one query position against its own small cache
    draft = by["draft.L0.attn_score"]
    assert _devices(draft) == DENSE and len(draft) == 2 * 2 * k     # ranks x mbs x passes
    first = draft[0]
    assert (first.shape["heads"], first.shape["kv_heads"], first.shape["q_len"]) == (16, 2, 1)
    assert first.flops == 2 * 16 * 1 * 65 * 64
    assert _devices(by["draft.L0.ffn_up"]) == DENSE


def test_medusa_heads_run_on_the_dense_units_and_the_tree_attention_on_the_pool(root):
    w, step, by = _step(root, "llama2_7b_medusa.yaml")
    T = w.decoding.medusa.tree_tokens
    score = by["L5.attn_score"]
    assert _devices(score) == POOL
    assert all(o.attrs.get("mask") == "tree" for o in score)
    assert {(o.shape["q_len"], o.shape["kv_len"]) for o in score} == {(T, 65 - 1 + T)}
    assert {o.flops for o in score} == {8 * 2 * T * (64 + T) * 128}
    assert _devices(by["medusa.h0.fc0"]) == DENSE and _devices(by["medusa.h4.lm_head"]) == DENSE


@pytest.mark.parametrize("wl", ["llama2_7b_speculative.yaml", "llama2_7b_medusa.yaml"])
def test_strategies_run_on_lamina_and_yield_every_token(root, wl):
    r = run("lamina_h100_h20", load_workload({"extends": str(root / "workloads" / wl),
                                              **SMALL}))
    assert r.tokens == SMALL["batch_size"] * SMALL["generate_tokens"]


def test_the_cli_runs_speculative_decoding_on_lamina(root, capsys):
    assert main(["run", "lamina_h100_h20", "llama2_7b_speculative", "--set", "batch_size=2",
                 "--set", "prompt_tokens=64", "--set", "generate_tokens=5"]) == 0
    assert "TPOT" in capsys.readouterr().out


def test_a_pim_pool_prices_a_verification_as_one_gemv_per_query_position():
    # AttAcc's PIM: the MAC units take one query vector at a time, so k + 1 = 5 positions cost
    # 5 GEMVs per (sequence, KV head) pair; a tree mask removes no GEMV (the softmax on the
    # buffer die applies it to the scores)
    from archsim.engine.simulator import Simulator
    from archsim.trace.counting import attention
    dev = Simulator(load_hardware("attacc_dgx_hbm_pim")).system.devices["pim0"]
    cost = {}
    for q, attrs in ((1, {}), (5, {}), (5, {"mask": "tree"})):
        op = attention(0, "L0.attn_score", OpKind.ATTENTION_SCORE, 0, 8, 1, 1, q, 300, 128,
                       "fp16", "fp16", (), attrs)
        cost[q, bool(attrs)] = dev.op_cost(op)
    assert cost[5, False].detail["gemvs"] == [(40, 300, 128)]
    assert cost[5, False].duration_ps == 5 * cost[1, False].duration_ps
    assert cost[5, True].duration_ps == cost[5, False].duration_ps


def test_each_decode_step_waits_for_the_previous_steps_sample_on_its_own_unit(root):
    """A step's first ops wait for the previous step's last op on their unit (``Op.prior``).
    The speculative prefill is laid out differently from its decode steps (one draft pass, not
    k), and decode steps patched from the first one used to keep its prior ids, which index the
    prefill's layout: from step 2 on, the draft's embedding on model0 waited for a draft FFN
    shard on model1 (a transfer over NVSwitch that no real run makes)."""
    hw = load_hardware("lamina_h100_h20")
    w = load_workload({"extends": str(root / "workloads" / "llama2_7b_speculative.yaml"),
                       **{**SMALL, "generate_tokens": 16}})
    t = apply_transforms(logical_trace(w, hw), hw.trace_transforms(), hw)
    assert len(t.steps) >= 4
    for i in range(2, len(t.steps)):
        edges = {(o.devices, t.steps[i - b].ops[d].name, t.steps[i - b].ops[d].devices)
                 for o in t.steps[i].ops for b, d in o.prior}
        assert edges == {((u,), "sample", (u,)) for u in DENSE}
