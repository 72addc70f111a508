"""Serving on an attention-offload design point (Lamina's H100 + H20 pool, AttAcc's GPUs +
HBM-PIM): each iteration's ragged attention is divided over the pool by (sequence, KV head)
pairs, every pair at its own sequence's context; Lamina's two micro-batches are cut by
sequences; the plan's iteration time is extrapolated from one- and two-layer engine runs, and a
uniform batch is served exactly as ``archsim run`` decodes it."""
import dataclasses

import numpy as np
import pytest
import yaml

import archsim
import archsim.errors
from archsim import load_hardware, load_workload
from archsim.cli import main
from archsim.serving import serve
from archsim.serving.step_model import StepModel, composition_step
from archsim.trace.counting import attention
from archsim.trace.schema import OpKind, Trace
from archsim.transforms import apply_transforms
from archsim.transforms.ragged import micro_batches, pair_segments

LAMINA = "lamina_h100_h20"


def test_pairs_are_ordered_kv_head_first_and_cut_into_even_ranges():
    # three sequences, two KV heads: pairs (1,10)h0 (5,5)h0 (5,5)h0 (1,10)h1 (5,5)h1 (5,5)h1
    segs = ((1, 10, 1), (5, 5, 2))
    assert pair_segments(segs, 2, 0, 1) == ((1, 10, 1),)
    assert pair_segments(segs, 2, 1, 3) == ((5, 5, 2),)
    assert pair_segments(segs, 2, 2, 5) == ((1, 10, 1), (5, 5, 2))
    assert pair_segments(segs, 2, 0, 6) == ((1, 10, 2), (5, 5, 4))


def test_micro_batches_cut_sequences_by_tokens_keeping_a_sampler_in_each():
    # sampling first: (30,30) to mb0; (1,600) and (1,100) to mb1; then the 200-token chunk to
    # mb1, which has fewer tokens (2 < 30)
    seqs = [(1, 600), (1, 100), (30, 30), (200, 200)]
    assert micro_batches(seqs, 3, 2) == [[2], [0, 1, 3]]
    assert micro_batches([(1, 50)] * 4, 4, 2) == [[0, 2], [1, 3]]      # equal halves
    assert micro_batches([(1, 50), (64, 64)], 1, 2) == [[0, 1]]       # one sampler: one mb
    assert micro_batches([(9, 9), (64, 64)], 0, 2) == [[1], [0]]


def test_a_ragged_iteration_is_divided_over_the_pool_with_each_sequence_at_its_context():
    hw, w = load_hardware(LAMINA), load_workload("llama2_7b")
    seqs = [(1, 3000), (1, 40), (24, 24)]                  # two decodes, one prefill chunk
    step = composition_step(w, seqs, 3)
    pool = ["attn0", "attn1", "attn2", "attn3"]
    plan = hw.parallelism
    tt = apply_transforms(Trace((step,), w.to_dict()),
                          (dataclasses.replace(plan, micro_batches=1),), hw)
    ops = tt.steps[0].ops
    score = [o for o in ops if o.name == "L0.attn_score"]
    assert [o.devices[0] for o in score] == pool
    want = [attention(0, "s", OpKind.ATTENTION_SCORE, 0, 1, 32, 32, q, c, 128, "fp16",
                      "fp16", ()) for q, c in seqs]
    for field in ("flops", "bytes_read", "kv_bytes"):
        # 4 units x 8 KV heads of every sequence: a quarter of the hand count each
        assert [getattr(o, field) * 4 for o in score] == [sum(getattr(x, field) for x in want)] * 4
    assert score[0].attrs["segments"] == ((1, 40, 8), (1, 3000, 8), (24, 24, 8))
    # Q (32 heads), K and V (32 KV heads) of 1 + 1 + 24 tokens, fp16, to the pool per layer
    sent = sum(o.bytes_written for o in ops if o.name == "L0.qkv_to_attention")
    assert sent == 26 * (32 + 2 * 32) * 128 * 2
    back = sum(o.bytes_written for o in ops if o.name == "L0.attention_to_dense")
    assert back == 26 * 32 * 128 * 2


@pytest.mark.parametrize("hw", [LAMINA, "h100x4_tp4"])
def test_the_layer_extrapolation_equals_the_full_engine_run(hw):
    hw, w = load_hardware(hw), load_workload("gpt2_small")
    model = StepModel(hw, w)
    rng = np.random.default_rng(3)
    cases = [([(1, 300)] * 4, 4), ([(1, int(c)) for c in rng.integers(5, 900, 9)], 9),
             ([(1, 70), (1, 500), (40, 40), (16, 200)], 3), ([(33, 33), (8, 90)], 0)]
    for seqs, s in cases:
        assert model.time_ps(seqs, s) == model._engine_ps(seqs, s), seqs
    assert model.layered is not None


def test_a_uniform_batch_is_served_on_lamina_exactly_as_archsim_run_decodes_it(tmp_path):
    f = tmp_path / "four.csv"
    f.write_text("arrival_s,prompt_tokens,output_tokens\n" + "0,32,8\n" * 4)
    r = archsim.run(LAMINA, "gpt2_small",
                    overrides=["batch_size=4", "prompt_tokens=32", "generate_tokens=8"])
    s = serve(LAMINA, "gpt2_small", {"arrivals": "trace", "trace_file": str(f)})
    assert s.ttft_s.tolist() == pytest.approx([r.ttft_s] * 4, rel=1e-12)
    assert s.tpot_s.tolist() == pytest.approx([r.tpot_s["mean"]] * 4, rel=1e-9)
    assert s.to_dict()["energy_j"] == pytest.approx(r.energy_j, rel=1e-9)


def test_poisson_requests_are_served_on_lamina_and_attention_runs_on_the_h20s():
    cfg = {"arrivals": "poisson", "rate_per_s": 200, "requests": 6, "seed": 0,
           "prompt_tokens": {"value": 24}, "output_tokens": {"value": 4}}
    s = serve(LAMINA, "gpt2_small", cfg)
    d = s.to_dict()
    assert d["requests"] == 6 and d["output_tokens"] == 24
    busy = s.priced.energy["devices"]
    # score, softmax and context on the H20s; no attention on the H100s
    assert set(busy["attn0"]["dynamic"]) == {"attention_score", "softmax", "attention_context"}
    assert "attention_score" not in busy["model0"]["dynamic"]


def test_serving_with_pipeline_stages_is_refused(capsys):
    assert main(["serve", "h100x4_tp4", "gpt2_small", "--set",
                             "parallelism.tensor=2", "--set", "parallelism.pipeline=2",
                             "--arrivals", "poisson:5", "--requests", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pipeline stages" in err


def test_one_request_on_attacc_leaves_pim_stacks_idle_but_an_unmapped_device_is_refused(
        tmp_path, root):
    # one sequence has 32 (sequence, KV head) pairs for AttAcc's 40 HBM-PIM stacks: 8 idle
    f = tmp_path / "one.csv"
    f.write_text("arrival_s,prompt_tokens,output_tokens\n0,16,3\n")
    s = serve("attacc_dgx_hbm_pim", "llama2_7b", {"arrivals": "trace", "trace_file": str(f)})
    assert s.to_dict()["output_tokens"] == 3
    # a device no op can reach is still an error, checked before serving
    spare = yaml.safe_load((root / "hw_configs" / "lamina_h100_h20.yaml").read_text())
    spare["devices"]["spare"] = {"extends": "h20"}
    spare["links"].append({"src": "spare", "dst": "netswitch", "extends": "rdma_400g"})
    with pytest.raises(archsim.errors.ArchsimError, match="no op runs on: spare"):
        serve(spare, "gpt2_small", {"arrivals": "poisson", "rate_per_s": 5, "requests": 2,
                                    "seed": 0})
