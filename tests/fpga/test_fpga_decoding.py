"""Decoding strategies on the fpga device kind: a verification pass (k + 1 query rows), a
Medusa tree pass and a draft model's passes are priced by the engines' tile counts, a
continuous-batching iteration's ragged attention segment by segment, and GEAR-compressed KV,
which the engines cannot reconstruct, is refused."""
import dataclasses
import math

import pytest

from archsim import Simulator, load_hardware, load_workload, run
from archsim.cli import main
from archsim.serving.step_model import composition_step
from archsim.trace.counting import attention, elementwise
from archsim.trace.schema import MATMUL_KINDS, OpKind
from archsim.transforms.decoding import logical_trace

INT8 = {"weights": "int4", "activations": "int8", "kv_cache": "int8",
        "weight_group_size": 128, "scale_dtype": "fp16"}
SMALL = {"batch_size": 1, "prompt_tokens": 32, "generate_tokens": 6, "precision": INT8}


@pytest.fixture
def fpga(root):
    hw = load_hardware(str(root / "hw_configs" / "fpga_u280_flightllm.yaml"))
    return Simulator(hw).system.devices["fpga"]


def _wl(root, name, **extra):
    return load_workload({"extends": str(root / "workloads" / name), **SMALL, **extra})


def _mm_attention_cycles(B_H, q, n, k):
    """FlightLLM preset MM unit: tile [2, 128, 16], 3 cores, lanes int4 (4 per DSP), INT8 KV
    packed 2 per DSP: each tile step takes 4 / 2 = 2 core-cycles."""
    steps = B_H * math.ceil(q / 2) * math.ceil(n / 128) * math.ceil(k / 16)
    return math.ceil(steps * 4 / (3 * 2))


def test_a_verification_pass_scores_k_plus_1_queries_on_the_mm_array(fpga, root):
    w = _wl(root, "llama2_7b_speculative.yaml")
    t = logical_trace(w)
    st = t.steps[1]
    k = w.decoding.speculative.k
    score = next(op for op in st.ops if op.name == "L0.attn_score")
    assert score.shape["q_len"] == k + 1
    C = score.shape["kv_len"]
    cost = fpga.op_cost(score)
    # 32 heads x (k+1) queries x C keys x head_dim 128
    assert cost.actions["cycles"] == _mm_attention_cycles(32, k + 1, C, 128)
    assert cost.actions["macs"] == 32 * (k + 1) * C * 128
    # the draft's passes are one-token GEMVs on the MV unit, priced like any decode op
    qkv = next(op for op in st.ops if op.name.startswith("draft.L0.") and op.kind in MATMUL_KINDS)
    assert qkv.shape["m"] == 1 and fpga.op_cost(qkv).detail["bound"] in ("mv", "hbm")


def test_a_medusa_tree_pass_is_the_dense_tree_by_context_block(fpga, root):
    w = _wl(root, "llama2_7b_medusa.yaml")
    st = logical_trace(w).steps[1]
    T = w.decoding.medusa.tree_tokens
    ctx = next(op for op in st.ops if op.name == "L3.attn_context")
    assert ctx.attrs["mask"] == "tree" and ctx.shape["q_len"] == T
    C = ctx.shape["kv_len"]
    # context: [T, C] x [C, head_dim] per head
    assert fpga.op_cost(ctx).actions["cycles"] == _mm_attention_cycles(32, T, 128, C)


def test_speculative_and_medusa_runs_on_the_fpga_yield_their_tokens(root):
    hw = str(root / "hw_configs" / "fpga_u280_flightllm.yaml")
    for name in ("llama2_7b_speculative.yaml", "llama2_7b_medusa.yaml"):
        r = run(hw, _wl(root, name))
        assert r.tokens == SMALL["generate_tokens"]
        assert r.tpot_s["mean"] > 0 and r.energy_per_token_j > 0


def test_gear_compressed_kv_is_refused_by_the_fpga(tmp_path, capsys, root):
    wl = tmp_path / "w.yaml"
    wl.write_text(f"extends: {root / 'workloads' / 'llama2_7b_flightllm.yaml'}\n"
                  "prompt_tokens: 8\ngenerate_tokens: 3\n"
                  "decoding: {kv_compression: {method: gear}}\n")
    assert main(["run", str(root / "hw_configs" / "fpga_u280_flightllm.yaml"), str(wl)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot reconstruct" in err and "FPGA device" in err


def test_a_ragged_iteration_prices_each_sequence_at_its_own_context(fpga, root):
    """A continuous-batching iteration: one sequence at 2000 tokens, seven at 40. Priced by
    its shape alone, all eight would attend to 2000 keys."""
    w = _wl(root, "llama2_7b_flightllm.yaml")
    seqs = [(1, 2000)] + [(1, 40)] * 7
    st = composition_step(w, seqs, len(seqs))
    for name in ("L0.attn_score", "L0.softmax", "L0.attn_context"):
        op = next(o for o in st.ops if o.name == name)
        parts = []
        for q, C, n in ((1, 40, 7), (1, 2000, 1)):
            if op.kind is OpKind.SOFTMAX:
                one = elementwise(op.id, op.name, op.kind, 0, n * q * 32, C, "softmax",
                                  op.dtype, op.deps)
            else:
                one = attention(op.id, op.name, op.kind, 0, n, 32, 32, q, C, 128, op.dtype,
                                op.kv_dtype, op.deps)
            parts.append(fpga.op_cost(one))
        got = fpga.op_cost(op)
        assert got.duration_ps == sum(p.duration_ps for p in parts)
        for a in ("cycles", "hbm.io_bit"):
            assert got.actions.get(a, 0) == sum(p.actions.get(a, 0) for p in parts)
        whole = fpga.op_cost(dataclasses.replace(op, attrs={}))
        assert got.duration_ps < whole.duration_ps
