"""Hydra heads (Ankner et al., arXiv 2402.05109): each draft head also takes the embeddings of
the tokens drafted before it, so the heads run one after another, with wider first layers."""
import pytest

from archsim import load_workload
from archsim.errors import ConfigError
from archsim.transforms.decoding import logical_trace
from archsim.transforms.decoding.plan_roles import medusa_role

D, V, ROWS = 4096, 32000, 4          # Llama-2-7B hidden size and vocabulary; batch 1 x 4 tree


def _step(kind, heads=3, layers=1):
    w = load_workload({"model": "llama2_7b", "batch_size": 1, "prompt_tokens": 16,
                       "generate_tokens": 3, "decoding": {"strategy": "medusa", "medusa": {
                           "heads": heads, "head_layers": layers, "tree_tokens": ROWS,
                           "accepted_tokens": 2, "heads_kind": kind}}})
    t = logical_trace(w)
    return t, {op.name: op for op in t.steps[1].ops}


def test_hydra_head_work_against_hand_counts():
    _, ops = _step("hydra")
    for h in range(3):
        width = (h + 2) * D          # hidden state + embeddings of the h + 1 tokens on the path
        assert ops[f"medusa.h{h}.fc0"].flops == 2 * ROWS * width * D + ROWS * D
        assert ops[f"medusa.h{h}.skip0"].flops == 2 * ROWS * width * D + ROWS * D
        assert ops[f"medusa.h{h}.fc0"].weight_bytes == 2 * (width * D + D)
        assert ops[f"medusa.h{h}.embed"].bytes_read == 2 * ROWS * D
        assert ops[f"medusa.h{h}.lm_head"].flops == 2 * ROWS * D * V + ROWS * V
    head_flops = sum(op.flops for n, op in ops.items() if n.startswith("medusa."))
    hand = sum(2 * (2 * ROWS * (h + 2) * D * D + ROWS * D) + 5 * ROWS * D + ROWS * D
               + 2 * ROWS * D * V + ROWS * V + ROWS * V for h in range(3))
    assert head_flops == hand


def test_hydra_heads_wait_for_the_previous_head_and_medusa_heads_do_not():
    _, hy = _step("hydra")
    assert hy["medusa.h0.embed"].deps == (hy["sample"].id,)
    assert hy["medusa.h1.embed"].deps == (hy["medusa.h0.topk"].id,)
    assert hy["medusa.h2.fc0"].deps == (hy["final_norm"].id, hy["medusa.h0.embed"].id,
                                        hy["medusa.h1.embed"].id, hy["medusa.h2.embed"].id)
    _, me = _step("medusa")
    assert me["medusa.h1.fc0"].deps == (me["final_norm"].id,)
    assert "medusa.h0.embed" not in me


def test_hydra_extra_blocks_and_metadata():
    t, ops = _step("hydra", heads=2, layers=2)
    assert ops["medusa.h1.fc1"].shape == {"m": ROWS, "n": D, "k": D}
    assert t.meta["decoding"]["heads_kind"] == "hydra"
    # the tensor-parallel roles and refusals of Medusa's heads cover Hydra's new ops
    assert medusa_role("medusa.h1.embed") == medusa_role("medusa.h1.skip0") == "whole"


def test_unknown_heads_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="heads_kind"):
        _step("eagle")
