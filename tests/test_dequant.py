"""Weight-only low-bit matmuls (INT4 weights with FP16 group scales, FP16 activations) dequantise
every stored weight before the multiply: the trace counts that work and each device prices it."""
import math

import pytest

from archsim import generate_trace, load_hardware, load_workload
from archsim.engine.system import System
from archsim.trace.counting import matmul
from archsim.trace.dequant import DEQUANT_OPS_PER_ELEMENT
from archsim.trace.formats import WeightFormat
from archsim.units import seconds_to_ps

INT4_G128 = WeightFormat("int4", group_size=128)
K, N = 4096, 4096


def _ops(workload):
    t = generate_trace(load_workload({"model": "llama2_7b", "batch_size": 1, "prompt_tokens": 16,
                                      "generate_tokens": 2, **workload}))
    return {op.name: op for op in t.steps[1].ops}


def test_int4_weights_with_fp16_activations_count_three_ops_per_stored_weight():
    ops = _ops({"precision": {"weights": "int4", "weight_group_size": 128}})
    qkv = ops["L0.qkv_proj"]
    # MARLIN: unpack, convert to fp16, multiply by the group scale: 3 ops for each of k x n
    assert qkv.attrs["dequant_elements"] == 4096 * 3 * 4096
    assert qkv.attrs["dequant_ops_per_element"] == DEQUANT_OPS_PER_ELEMENT == 3
    assert ops["L0.ffn_down"].attrs["dequant_elements"] == 11008 * 4096
    # the FLOPs stay the multiply-accumulates: dequantisation is counted apart
    assert qkv.flops == 2 * 4096 * 3 * 4096


def test_no_dequantisation_when_the_multiplier_takes_the_weights_as_stored():
    fp16 = _ops({})["L0.qkv_proj"]
    w4a8 = _ops({"precision": {"weights": "int4", "activations": "int8",
                               "weight_group_size": 128}})["L0.qkv_proj"]
    assert "dequant_elements" not in fp16.attrs      # fp16 x fp16
    assert "dequant_elements" not in w4a8.attrs      # integer activations: no fp16 multiply
    # sparse weights dequantise only the stored (non-zero) values
    sparse = matmul(0, "x", 0, 1, N, K, "fp16", "int4", (), bias=False,
                    wfmt=WeightFormat("int4", sparsity=(2, 4), index_bits=2))
    assert sparse.attrs["dequant_elements"] == K * N // 2


def _gpu(vector_fp16):
    hw = load_hardware({"name": "t4_dq", "devices": {"gpu0": {
        "extends": "t4", "vector_peak": {"fp16": vector_fp16, "fp32": "8.1 TFLOPS"}}}})
    return System(hw).devices["gpu0"]


def test_gpu_overlaps_dequantisation_with_memory_and_tensor_work():
    gpu = _gpu("16.2 TFLOPS")          # the T4's FP16 CUDA-core rate
    op = matmul(0, "x", 0, 1, N, K, "fp16", "int4", (), bias=False, wfmt=INT4_G128)
    plan = gpu.gemm_plan(op)
    occupancy = min(1.0, plan.ctas / 40)
    t_vec = 3 * K * N / (16.2e12 * occupancy)
    ops, t = gpu.dequant_terms(op)
    assert ops == 3 * K * N and t == pytest.approx(t_vec)
    # batch-1 decode: the weights' bytes bind, dequantisation hides under them
    cost = gpu.op_cost(op)
    assert cost.detail["bound"] == "memory"
    assert cost.actions["vector_flop"] == 3 * K * N
    # a GEMM re-dequantises the weights once per row tile of its activations
    big = matmul(0, "x", 0, 300, N, K, "fp16", "int4", (), bias=False, wfmt=INT4_G128)
    tiles = math.ceil(300 / gpu.gemm_plan(big).tile_m)
    assert gpu.dequant_terms(big)[0] == 3 * K * N * tiles


def test_gpu_with_slow_cuda_cores_is_dequantisation_bound():
    gpu = _gpu("0.1 TFLOPS")
    op = matmul(0, "x", 0, 1, N, K, "fp16", "int4", (), bias=False, wfmt=INT4_G128)
    _, t_vec = gpu.dequant_terms(op)
    be, ce, launch = gpu.kind_params(op.kind)
    cost = gpu.op_cost(op)
    assert cost.detail["bound"] == "dequant"
    assert cost.duration_ps == seconds_to_ps(launch + t_vec / ce)


def test_asic_lanes_do_the_dequantisation_too(root):
    asic = System(load_hardware(str(root / "hw_configs" / "pim_gpt.yaml"))).devices["asic"]
    low = matmul(0, "x", 0, 1, N, K, "fp16", "int4", (), bias=False, wfmt=INT4_G128)
    assert asic.op_cost(low).actions["lane_op"] == 2 * K * N + 3 * K * N
