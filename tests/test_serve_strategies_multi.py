"""Speculative and Medusa serving on design points of several devices: each iteration is one
step of chained passes (the draft's passes, the target's verification or tree pass, the
draft's prefill; or the target's pass and Medusa's heads) run through the engine with the plan
applied, so one request is served exactly as ``archsim run`` decodes it; a plan's
micro-batches are refused."""
import pytest

import archsim
from archsim import load_workload
from archsim.serving import serve
from archsim.serving.strategy_step import strategy_step


def _one(tmp_path, hw, wl, overrides=()):
    f = tmp_path / "one.csv"
    f.write_text("arrival_s,prompt_tokens,output_tokens\n0,64,16\n")
    r = archsim.run(hw, wl, overrides=["prompt_tokens=64", "generate_tokens=16", *overrides])
    s = serve(hw, wl, {"arrivals": "trace", "trace_file": str(f)}, overrides=overrides)
    return r, s


def test_an_iteration_chains_the_draft_the_verification_and_the_draft_prefill():
    w = load_workload("llama2_7b_speculative")
    step = strategy_step(w, [100, 300], [(8, 8)], 1)
    names = [op.name for op in step.ops]
    k = w.decoding.speculative.k
    first_target = names.index("embed")
    assert names[:first_target].count("draft.embed") == k            # k draft passes first
    assert names[first_target + 1:].count("draft.embed") == 1         # then the draft prefill
    embed = step.ops[first_target]
    assert embed.deps == (first_target - 1,)                          # after the last draft op
    # verification: k + 1 rows per decoding sequence and the completing chunk's last row
    lm = next(op for op in step.ops if op.name == "lm_head")
    assert lm.shape["m"] == 2 * (k + 1) + 1
    assert not any(n in ("draft.lm_head", "draft.sample") for n in names[first_target:])
    score = next(op for op in step.ops if op.name == "L0.attn_score")
    assert score.attrs["segments"] == ((5, 105, 1), (5, 305, 1), (8, 8, 1))


def test_medusa_heads_run_on_every_sampled_position():
    w = load_workload("llama2_7b_medusa")
    T = w.decoding.medusa.tree_tokens
    step = strategy_step(w, [100], [], 0)
    assert next(op for op in step.ops if op.name == "medusa.h0.fc0").shape["m"] == T


@pytest.mark.parametrize("hw,wl,overrides", [
    ("h100x4_tp4", "llama2_7b_speculative", ()),
    ("lamina_h100_h20", "llama2_7b_medusa", ("parallelism.micro_batches=1",)),
])
def test_one_request_is_served_exactly_as_archsim_run_decodes_it(tmp_path, hw, wl, overrides):
    r, s = _one(tmp_path, hw, wl, overrides)
    assert s.ttft_s[0] == pytest.approx(r.ttft_s, rel=1e-12)
    assert s.e2e_s[0] == pytest.approx(r.latency_s, rel=1e-12)
    assert s.to_dict()["energy_j"] == pytest.approx(r.energy_j, rel=1e-9)
    assert len(s.iterations) == len(r.trace.steps)
