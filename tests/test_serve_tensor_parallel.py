"""Serving on a tensor-parallel design point: each iteration's composition runs through the
engine with the plan applied, and the plan splits a ragged attention op by heads with every
sequence at its own context (its rank shares add up to the per-sequence hand counts)."""
import archsim
from archsim import load_hardware, load_workload
from archsim.serving.step_model import composition_step
from archsim.trace.counting import attention
from archsim.trace.schema import Trace
from archsim.transforms import apply_transforms


def test_a_ragged_iteration_splits_by_heads_with_each_sequence_at_its_own_context(root):
    hw = load_hardware(str(root / "hw_configs" / "h100x4_tp4.yaml"))
    w = load_workload(str(root / "workloads" / "llama2_7b.yaml"))
    seqs = [(1, 3000), (1, 40), (1, 40), (24, 24)]          # three decodes, one prefill chunk
    step = composition_step(w, seqs, 3)
    tt = apply_transforms(Trace((step,), w.to_dict()), hw.trace_transforms(), hw)
    ranks = [o for o in tt.steps[0].ops if o.name == "L0.attn_score"]
    assert len(ranks) == 4
    want = [attention(0, "s", ranks[0].kind, 0, 1, 32, 32, q, c, 128, "fp16", "fp16", ())
            for q, c in seqs]
    for field in ("flops", "bytes_read", "bytes_written", "kv_bytes"):
        assert sum(getattr(o, field) for o in ranks) == sum(getattr(x, field) for x in want)
    # each rank: 8 of the 32 heads, not 4 sequences at the longest context
    assert ranks[0].flops * 4 == sum(x.flops for x in want)
    assert ranks[0].shape["heads"] == 8 and ranks[0].attrs["segments"]


def test_serving_runs_on_a_tensor_parallel_design_point_faster_than_one_gpu(root):
    cfg = {"arrivals": "poisson", "rate_per_s": 50, "requests": 6, "seed": 0,
           "prompt_tokens": {"value": 32}, "output_tokens": {"value": 4}}
    wl = root / "workloads" / "llama2_7b.yaml"
    one = archsim.serve(root / "hw_configs" / "gpu_h100_sxm.yaml", wl, cfg).to_dict()
    tp4 = archsim.serve(root / "hw_configs" / "h100x4_tp4.yaml", wl, cfg).to_dict()
    assert tp4["requests"] == one["requests"] == 6
    assert tp4["output_tokens"] == one["output_tokens"]
    assert tp4["tpot_s"]["p50"] < one["tpot_s"]["p50"]

