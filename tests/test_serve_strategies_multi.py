"""Speculative and Medusa serving on design points of several devices: each iteration is one
step of chained passes (the draft's passes, the target's verification or tree pass, the
draft's prefill; or the target's pass and Medusa's heads) run through the engine with the plan
applied, so a batch of equal requests is served exactly as ``archsim run`` decodes it; with a
plan's micro-batches every micro-batch gets decoding sequences (and prompt chunks for a draft's
prefill) so that each runs every pass."""
import pytest

import archsim
from archsim import load_workload
from archsim.serving import serve
from archsim.serving.strategy_step import strategy_step
from archsim.transforms.ragged import covering_micro_batches


def _batch(tmp_path, hw, wl, n):
    f = tmp_path / "reqs.csv"
    f.write_text("arrival_s,prompt_tokens,output_tokens\n" + "0,64,16\n" * n)
    r = archsim.run(hw, wl, overrides=[f"batch_size={n}", "prompt_tokens=64",
                                       "generate_tokens=16"])
    s = serve(hw, wl, {"arrivals": "trace", "trace_file": str(f)})
    return r, s


def test_micro_batches_each_get_a_decoding_sequence_and_a_prompt_chunk():
    # sequences 0, 1 decode (5 tokens each), 2 and 3 are prompt chunks of 40 and 9 tokens
    tokens = [5, 5, 40, 9]
    decodes, chunks = {0, 1}, {2, 3}
    assert covering_micro_batches(tokens, [decodes, chunks], 2) == [[0, 2], [1, 3]]
    # one chunk only: every micro-batch cannot have one, so one micro-batch
    assert covering_micro_batches([5, 5, 40], [{0, 1}, {2}], 2) == [[0, 1, 2]]
    # no required set: by tokens, most first, to the lightest micro-batch
    assert covering_micro_batches([40, 9, 5, 5], [], 2) == [[0], [1, 2, 3]]


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


@pytest.mark.parametrize("hw,wl,n", [
    ("h100x4_tp4", "llama2_7b_speculative", 1),
    ("lamina_h100_h20", "llama2_7b_medusa", 2),          # two micro-batches of one request
])
def test_equal_requests_are_served_exactly_as_archsim_run_decodes_them(tmp_path, hw, wl, n):
    r, s = _batch(tmp_path, hw, wl, n)
    assert s.ttft_s.tolist() == pytest.approx([r.ttft_s] * n, rel=1e-12)
    assert s.e2e_s.tolist() == pytest.approx([r.latency_s] * n, rel=1e-12)
    assert s.to_dict()["energy_j"] == pytest.approx(r.energy_j, rel=1e-9)
    assert len(s.iterations) == len(r.trace.steps)
